"""JSON-safe copies of graph state, for result columns and API responses."""

from __future__ import annotations

import dataclasses
import json
import re
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


# `\u0000` in JSON text, but not the tail of an escaped backslash followed by "u0000".
_NUL_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def dumps(value: Any) -> str:
    """`value` as JSON text that Postgres jsonb accepts: anything json cannot encode is made
    JSON-safe, and NUL characters, which jsonb refuses, become U+FFFD."""
    text = json.dumps(value, default=_default, ensure_ascii=False)
    return _NUL_ESCAPE.sub(lambda m: m.group(1) + "\ufffd", text) if "\\u0000" in text else text


def to_json(value: Any) -> Any:
    """A JSON-safe copy of `value` (see `dumps`)."""
    return json.loads(dumps(value))
