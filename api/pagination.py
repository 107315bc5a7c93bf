"""Cursor pagination, the same on every list.

A cursor is opaque to clients: base64url (unpadded) of a JSON array `[kind, *key]`, where `key`
is the last row's sort key (tasks: created_at and id; events: the event id; ...). The `kind`
makes a task cursor useless on the workers list instead of silently meaning something else.
A cursor that does not decode is a 422 on `query.cursor`, never a 500.

Each list fetches `limit + 1` rows: the extra row only says whether a next page exists, so the
last page carries `next_cursor: null` instead of sending the client to an empty page.

A page is also capped in size: items stop once their JSON passes MAX_PAGE_BYTES (at least one
item is always returned), and `next_cursor` continues after the last one sent. Lists of tasks
and dead letters are projections: their user-sized fields come only with `?include=`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Query
from pydantic import BaseModel

from api.problems import ProblemError, invalid
from api.schemas import LABEL_PATTERN, Page
from db.connect import Row

M = TypeVar("M", bound=BaseModel)
# ASCII digits only: str.isdigit() also takes '²' and Arabic-Indic digits, which int()
# refuses or misreads. Eighteen digits always fit a bigint.
_BIGINT = re.compile(r"[0-9]{1,18}")

LimitQuery = Annotated[int, Query(ge=1, le=200, description="Items per page.")]
CursorQuery = Annotated[
    str | None, Query(min_length=1, max_length=512, description="next_cursor of the last page.")
]
MAX_PAGE_BYTES = 1_048_576
FilterQuery = Annotated[str | None, Query(min_length=1, max_length=255, pattern=LABEL_PATTERN)]


def include_query(*fields: str) -> Any:
    """`?include=a,b`: which of `fields` a list adds to its items (a pattern the schema shows).
    Use as `Annotated[str | None, include_query(...)]`."""
    one = "(" + "|".join(fields) + ")"
    return Query(
        pattern=f"^{one}(,{one})*$",
        max_length=200,
        description=f"Comma-separated fields to add to each item: {', '.join(fields)}.",
    )


def included(include: str | None) -> set[str]:
    return set(include.split(",")) if include else set()


def encode(kind: str, *key: object) -> str:
    raw = json.dumps([kind, *(str(part) for part in key)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


def _bad_cursor(kind: str) -> ProblemError:
    return invalid("query.cursor", "cursor", f"not a cursor from this {kind} list")


def decode(cursor: str, kind: str, size: int) -> list[str]:
    """The `size` key parts of a cursor made by encode(kind, ...); else a 422 problem."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = json.loads(raw)
    except (binascii.Error, ValueError):
        raise _bad_cursor(kind) from None
    ok = (
        isinstance(parts, list)
        and len(parts) == size + 1
        and parts[0] == kind
        and all(isinstance(p, str) and p.isprintable() for p in parts[1:])
    )
    if not ok:
        raise _bad_cursor(kind)
    return list(parts[1:])


def decode_time_id(cursor: str, kind: str) -> tuple[datetime, uuid.UUID]:
    stamp, ident = decode(cursor, kind, 2)
    try:
        return datetime.fromisoformat(stamp), uuid.UUID(ident)
    except ValueError:
        raise _bad_cursor(kind) from None


def decode_int(cursor: str, kind: str) -> int:
    (value,) = decode(cursor, kind, 1)
    if not _BIGINT.fullmatch(value):  # a bigint, never a 500 from int() or Postgres
        raise _bad_cursor(kind)
    return int(value)


def decode_text(cursor: str, kind: str) -> str:
    (value,) = decode(cursor, kind, 1)
    return value


def page(
    rows: Sequence[Row],
    limit: int,
    model: type[M],
    key: Callable[[Row], Sequence[Any]],
    kind: str,
    *,
    omit: Collection[str] = (),
) -> Page[M]:
    """The first `limit` rows as `model` (without the columns in `omit`, which the route must
    serve with response_model_exclude_unset), cut at MAX_PAGE_BYTES, and a cursor past the
    last item sent if more rows exist."""
    items: list[M] = []
    size = 0
    for row in rows[:limit]:
        item = model.model_validate({k: v for k, v in row.items() if k not in omit})
        size += len(item.model_dump_json(exclude_unset=True))
        if items and size > MAX_PAGE_BYTES:
            break
        items.append(item)
    more = len(rows) > len(items)
    cursor = encode(kind, *key(rows[len(items) - 1])) if more else None
    return Page[M](items=items, next_cursor=cursor)
