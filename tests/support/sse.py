"""A minimal Server-Sent Events reader for the stream tests (this module holds no tests)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Event:
    id: int  # a task stream's `E.D` ids: E, the task event offset
    event: str
    data: dict[str, Any]
    raw_id: str = ""  # the id as sent (a task stream's `E.D`)


def events(response: httpx.Response) -> Iterator[Event]:
    """The events of a streaming response, as they arrive (pings and comments skipped)."""
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if not line:
            if "data" in fields and "id" in fields:
                raw = fields["id"]
                yield Event(
                    int(raw.partition(".")[0]),
                    fields.get("event", "message"),
                    json.loads(fields["data"]),
                    raw,
                )
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value[1:] if value.startswith(" ") else value


def custom_and_updates(parts: list[Any]) -> list[Any]:
    """A run's `custom` chunks (step, part) and `updates` step numbers, in the order they came,
    from the LangGraph SDK's stream parts of the `progress` graph (tests/support/graphs.py)."""
    order: list[Any] = []
    for p in parts:
        if p.event == "custom":
            order.append((p.data["step"], p.data["part"]))
        elif p.event == "updates":
            order.append(p.data["note"]["done"] - 1)
    return order
