"""Checks on a JSON request body before any route sees it.

Postgres `jsonb` refuses what Python's `json` happily parses: `\\u0000` in a string or key, lone
UTF-16 surrogates, NaN and Infinity (`1e400` parses to `inf`). Left alone, each would reach the
INSERT and come back as a 500. Nesting is bounded too, and counted on the raw bytes *before*
parsing, so a hostile `[[[[...` never reaches the recursive parser.
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


@dataclass(frozen=True)
class Violation:
    """Why a body is refused: an HTTP status, a problem slug, and the field and rule broken."""

    status: int
    slug: str
    title: str
    field: str
    rule: str
    message: str


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
    return _first_bad_value(value)


def _invalid(field: str, rule: str, message: str) -> Violation:
    return Violation(422, "validation-error", "Request validation failed", field, rule, message)


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any, bool]]:
    """Every string, key and number in `value`, with its field path; iterative, not recursive.
    Yields (path, item, is_key)."""
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                yield f"{where}.{key}", key, True
                stack.append((f"{where}.{key}", child))
        elif isinstance(item, list):
            stack.extend((f"{where}.{i}", child) for i, child in enumerate(item))
        else:
            yield where, item, False


def _first_bad_value(value: Any) -> Violation | None:
    for where, item, is_key in _walk(value, "body"):
        what = "key" if is_key else "string"
        if isinstance(item, str) and "\x00" in item:
            return _invalid(where, "no_nul_character", f"a {what} may not contain \\u0000")
        if isinstance(item, str) and not _is_utf8(item):
            return _invalid(where, "valid_unicode", f"a {what} may not hold a lone surrogate")
        if isinstance(item, float) and not math.isfinite(item):
            return _invalid(where, "finite_number", "numbers must be finite (no NaN, Infinity)")
    return None


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
