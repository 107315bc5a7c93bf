"""JSON-safe copies of graph state, for result columns and API responses."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime
from typing import Any


def _default(value: Any) -> Any:
    if hasattr(value, "model_dump"):  # pydantic models, LangChain messages
        return value.model_dump()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return repr(value)


def to_json(value: Any) -> Any:
    """A JSON-safe copy of `value`. NUL characters, which Postgres jsonb refuses, become U+FFFD."""
    text = json.dumps(value, default=_default, ensure_ascii=False)
    return json.loads(text.replace("\\u0000", "\ufffd"))
