"""How the CLI's list commands print: a table for people by default, `-o json` or `-o yaml` for
scripts (the API's body as is), and `--watch N` to re-render every N seconds until Ctrl-C.

A table shows the columns a list names (`Column`), one row per item, then the next page's
cursor when there is one. Tables are drawn by rich (which typer ships), as plain text when
stdout is not a terminal; YAML by PyYAML.
"""

from __future__ import annotations

import io
import json
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import typer
import yaml
from rich import box
from rich.console import Console
from rich.table import Table

Json = dict[str, Any]


class Format(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"


OutputOption = Annotated[
    Format, typer.Option("--output", "-o", help="table (default), json or yaml.")
]
WatchOption = Annotated[
    float | None,
    typer.Option(min=0.5, help="Re-render every N seconds until Ctrl-C.", metavar="N"),
]
WIDE = 200  # the table's width when stdout is not a terminal: ids are never cut


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[Json], object]


def field(name: str, header: str | None = None) -> Column:
    return Column(header or name.upper().replace("_", " "), lambda item: item.get(name))


def age(name: str = "created_at", header: str = "AGE") -> Column:
    return Column(header, lambda item: ago(item.get(name)))


def ago(text: object, now: datetime | None = None) -> str:
    """'42s', '5m', '3h', '2d' since an ISO 8601 time; '' for none."""
    if not isinstance(text, str):
        return ""
    seconds = ((now or datetime.now(UTC)) - datetime.fromisoformat(text)).total_seconds()
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if abs(seconds) >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{max(int(seconds), 0)}s"


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def table(body: Json, columns: Sequence[Column]) -> str:
    items: list[Json] = body.get("items", [])
    grid = Table(box=box.SIMPLE, show_edge=False, pad_edge=False)
    for column in columns:
        grid.add_column(column.header, overflow="fold")
    for item in items:
        grid.add_row(*(_cell(column.value(item)) for column in columns))
    terminal = sys.stdout.isatty()
    width = shutil.get_terminal_size().columns if terminal else WIDE
    buffer = io.StringIO()
    Console(file=buffer, width=width, color_system="auto" if terminal else None).print(grid)
    text = buffer.getvalue().rstrip("\n") if items else "(none)"
    if body.get("next_cursor"):
        text += f"\nmore: --cursor {body['next_cursor']}"
    return text


def render(body: Json, fmt: Format, columns: Sequence[Column]) -> str:
    if fmt is Format.json:
        return json.dumps(body, indent=2)
    if fmt is Format.yaml:
        return yaml.safe_dump(body, sort_keys=False, allow_unicode=True).rstrip("\n")
    return table(body, columns)


CLEAR = "\x1b[2J\x1b[H"  # clear the screen, cursor home


def show(
    fetch: Callable[[], Json],
    fmt: Format,
    columns: Sequence[Column],
    watch: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Print one rendering, or with `watch` a fresh one every `watch` seconds until Ctrl-C
    (which ends the command with exit code 0). A failure of `fetch` ends the watch too."""
    if watch is None:
        typer.echo(render(fetch(), fmt, columns))
        return
    try:
        while True:
            text = render(fetch(), fmt, columns)
            stamp = datetime.now(UTC).strftime("%H:%M:%S")
            typer.echo(f"{CLEAR}every {watch:g}s, {stamp} UTC (Ctrl-C to stop)\n{text}")
            sleep(watch)
    except KeyboardInterrupt:
        return
