"""Checks on a JSON request body before any route sees it.

This is the one validator of values entering the system: every body of every route passes it
(api.body.BodyGuard), so a value a task's state cannot hold is refused at the edge (SPEC 4.9),
never discovered by a worker. Postgres `jsonb` refuses what Python's `json` happily parses:
`\\u0000` in a string or key, lone UTF-16 surrogates, NaN and Infinity (`1e400` parses to
`inf`). LangGraph's checkpoint serializer (msgpack) refuses integers beyond 64 bits; we keep to
the signed int64 range, which every JSON consumer and Postgres `bigint` also hold. Nesting is
bounded too, and counted on the raw bytes *before* parsing, so a hostile `[[[[...` never
reaches the recursive parser.

A violation names its place twice: `field`, the dotted path the rest of the API uses
(`body.input.k`), and `pointer`, an RFC 6901 JSON Pointer into the body (`/input/k`), exact even
when a key holds a dot or a slash.
"""

from __future__ import annotations

import email.message
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# A JSON string literal, as the "unrolled loop" (no nested quantifiers: linear time).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
Path = tuple[str | int, ...]

# The rules above as JSON Schema, for the OpenAPI document (components/schemas/JsonValue):
# what JSON Schema can say. Depth (OUTLAST_MAX_JSON_DEPTH) and lone surrogates it cannot; a
# float with no fraction beyond int64 (1e300) is accepted as a float.
_NO_NUL = {"type": "string", "pattern": "^[^\\x00]*$"}
JSON_REF = {"$ref": "#/components/schemas/JsonValue"}
JSON_OBJECT = {"type": "object", "propertyNames": _NO_NUL, "additionalProperties": JSON_REF}
JSON_VALUE = {
    "description": "Any JSON a task's state can hold: no NUL in strings or keys, integers "
    "within int64, finite numbers, nesting within OUTLAST_MAX_JSON_DEPTH.",
    "anyOf": [
        {"type": "null"},
        {"type": "boolean"},
        _NO_NUL,
        {"type": "integer", "minimum": INT64_MIN, "maximum": INT64_MAX},
        {"type": "number", "not": {"type": "integer"}},
        {"type": "array", "items": JSON_REF},
        JSON_OBJECT,
    ],
}


@dataclass(frozen=True)
class Violation:
    """Why a body is refused: an HTTP status, a problem slug, and the field and rule broken."""

    status: int
    slug: str
    title: str
    field: str
    rule: str
    message: str
    pointer: str | None = None


def is_json(content_type: str | None) -> bool:
    """FastAPI's own test: no content type, `application/json`, or `application/*+json`."""
    if not content_type:
        return True
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in `body` (brackets inside strings ignored)."""
    deepest = level = 0
    for byte in _STRING.sub(b'""', body).translate(None, _NOT_BRACKETS):
        level += 1 if byte in b"[{" else -1
        deepest = max(deepest, level)
    return deepest


def inspect(body: bytes, content_type: str | None, max_depth: int) -> Violation | None:
    """The first reason to refuse `body`, or None when it is safe to hand to the routes."""
    if not is_json(content_type):
        return Violation(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            "header.content-type",
            "json_media_type",
            f"the body must be application/json, not {content_type}",
        )
    if depth(body) > max_depth:
        return _invalid("body", "max_depth", f"JSON nests deeper than {max_depth} levels")
    try:
        value = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return Violation(
            400,
            "malformed-json",
            "Malformed JSON",
            "body",
            "json",
            f"the body is not valid JSON: {exc}",
        )
    except RecursionError:  # only when max_json_depth is set near the interpreter's limit
        return _invalid("body", "max_depth", "JSON nests too deeply to parse")
    except ValueError as exc:  # an integer literal over Python's digit limit
        return _invalid("body", "number_size", str(exc))
    return first_bad_value(value)


def field_name(path: Path) -> str:
    return ".".join(["body", *map(str, path)])


def pointer(path: Path) -> str:
    """RFC 6901: `/`-joined, with `~` and `/` inside a key escaped as `~0` and `~1`."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def _invalid(field: str, rule: str, message: str, where: str | None = None) -> Violation:
    return Violation(
        422, "validation-error", "Request validation failed", field, rule, message, where
    )


def _walk(value: Any) -> Iterator[tuple[Path, Any, bool]]:
    """Every key and scalar in `value`, with its path; iterative, not recursive.
    Yields (path, item, is_key)."""
    stack: list[tuple[Path, Any]] = [((), value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                yield (*where, key), key, True
                stack.append(((*where, key), child))
        elif isinstance(item, list):
            stack.extend(((*where, i), child) for i, child in enumerate(item))
        else:
            yield where, item, False


def first_bad_value(value: Any) -> Violation | None:
    """The first key or scalar of a parsed body that Postgres or the checkpointer cannot
    store, as a 422 naming its path and the rule; None when all can be stored."""
    for where, item, is_key in _walk(value):
        broken = _rule_broken(item, "key" if is_key else "string")
        if broken is not None:
            return _invalid(field_name(where), *broken, pointer(where))
    return None


def _rule_broken(item: Any, what: str) -> tuple[str, str] | None:
    if isinstance(item, str):
        if "\x00" in item:
            return "no_nul_character", f"a {what} may not contain \\u0000"
        if not _is_utf8(item):
            return "valid_unicode", f"a {what} may not hold a lone surrogate"
    elif isinstance(item, float) and not math.isfinite(item):
        return "finite_number", "numbers must be finite (no NaN, Infinity)"
    elif isinstance(item, int) and not INT64_MIN <= item <= INT64_MAX:
        return "int64", f"integers must fit in 64 bits ({INT64_MIN} to {INT64_MAX})"
    return None


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
