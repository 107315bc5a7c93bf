"""Named SQL blocks from db/queries/*.sql, parsed once at import.

A block starts at `-- name: <name>`; the comment lines right after it say what it does; the
statement runs to the next block. Callers reach them only through the typed functions in db/.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import LiteralString

QUERY_DIR = Path(__file__).parent / "queries"
_BLOCK = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


def parse(text: str) -> dict[str, str]:
    """Map each block's name to its statement (comments kept, trailing semicolon dropped)."""
    parts = _BLOCK.split(text)
    blocks: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in blocks:
            raise ValueError(f"query {name!r} is defined twice")
        blocks[name] = body.strip().rstrip(";").strip()
    return blocks


def load(directory: Path = QUERY_DIR) -> dict[str, str]:
    queries: dict[str, str] = {}
    for path in sorted(directory.glob("*.sql")):
        for name, statement in parse(path.read_text()).items():
            if name in queries:
                raise ValueError(f"query {name!r} is defined twice ({path.name})")
            queries[name] = statement
    return queries


QUERIES = load()


def query(name: str) -> LiteralString:
    """The statement named `name`; it comes from our own files, never from input."""
    statement: LiteralString = QUERIES[name]  # type: ignore[assignment,unused-ignore]
    return statement
