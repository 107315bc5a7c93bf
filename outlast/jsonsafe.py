"""JSON-safe copies of graph state, for result columns and API responses.

Postgres jsonb refuses some of what Python's json writes: NUL characters (`\\u0000`), lone
surrogates (a `str` decoded with surrogateescape), and NaN/Infinity (not JSON at all). Text
loses only the offending characters (each becomes U+FFFD); a number has no such replacement, so
`dumps_storable` refuses it (UnstorableValue) rather than store something else.
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import date, datetime
from typing import Any

from outlast.errors import UnstorableValue


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
# With ensure_ascii=False json leaves every str character as it is, lone surrogates included.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _storable_text(text: str) -> str:
    if "\\u0000" in text:
        text = _NUL_ESCAPE.sub(lambda m: m.group(1) + "\ufffd", text)
    if text.isascii():  # no surrogate in it: skip the scan (most results; ADR 0019)
        return text
    return _SURROGATE.sub("\ufffd", text)


def dumps(value: Any) -> str:
    """`value` as JSON text: anything json cannot encode is made JSON-safe, and NUL characters
    and lone surrogates, which jsonb refuses, become U+FFFD."""
    return _storable_text(json.dumps(value, default=_default, ensure_ascii=False))


def dumps_storable(value: Any, what: str = "value") -> str:
    """As `dumps`, but JSON text Postgres jsonb always accepts, or UnstorableValue (naming
    `what`) for what has no faithful JSON form: NaN or Infinity, an int past Python's
    int-to-text limit, a circular reference, nesting deeper than the interpreter's stack."""
    try:
        text = json.dumps(value, default=_default, ensure_ascii=False, allow_nan=False)
    except (ValueError, RecursionError) as exc:
        raise UnstorableValue(f"the {what} cannot be stored as JSON: {exc}") from exc
    return _storable_text(text)


def to_json(value: Any) -> Any:
    """A JSON-safe copy of `value` (see `dumps`)."""
    return json.loads(dumps(value))


def to_storable_json(value: Any, what: str = "value") -> Any:
    """A copy of `value` that Postgres jsonb accepts (see `dumps_storable`)."""
    return json.loads(dumps_storable(value, what))
