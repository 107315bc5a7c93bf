"""The built-in tools: `calculator`, `read_url`, `create_text_artifact` and
`request_human_input` (the names outlast/catalogue.py lists). Each returns JSON for the model
or raises ToolError with a message for it; `call_tool` turns any failure into a tool error."""

from __future__ import annotations

import re
from typing import Any

import httpx

from outlast.calculator import evaluate
from outlast.errors import ToolError
from outlast.htmltext import html_to_text
from outlast.human import request_input
from outlast.netguard import fetch
from outlast.tool import Tool, ToolContext

ARTIFACT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
ARTIFACT_TYPES = frozenset({"text/plain", "text/markdown", "text/csv", "application/json"})
MAX_ARTIFACT_CHARS = 1_000_000
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/xhtml+xml")


def _string(arguments: dict[str, Any], name: str) -> str:
    value = arguments.get(name)
    if not isinstance(value, str) or not value:
        raise ToolError(f"argument {name!r} must be a non-empty string")
    return value


async def calculator(arguments: dict[str, Any], context: ToolContext) -> Any:
    return {"value": evaluate(_string(arguments, "expression"))}


async def read_url(arguments: dict[str, Any], context: ToolContext) -> Any:
    url = _string(arguments, "url")
    headers = {"Idempotency-Key": context.idempotency_key, "User-Agent": "outlast-read-url"}
    try:
        page = await fetch(url, context.limits.fetch, headers=headers)
    except TimeoutError as exc:
        raise ToolError(
            f"fetching {url} took longer than {context.limits.fetch.timeout_s}s"
        ) from exc
    except httpx.HTTPError as exc:
        raise ToolError(f"fetching {url} failed: {type(exc).__name__}") from exc
    media_type = page.content_type.split(";")[0].strip().lower()
    if not media_type.startswith(TEXT_TYPES):
        raise ToolError(f"{url} is {media_type}, not text")
    text = page.body.decode(_charset(page.content_type), errors="replace")
    title = ""
    if "html" in media_type:
        title, text = html_to_text(text)
    return {
        "url": page.url,
        "status": page.status,
        "content_type": media_type,
        "title": title,
        "text": text,
        "truncated": page.truncated,
    }


def _charset(content_type: str) -> str:
    match = re.search(r"charset=([\w.-]+)", content_type, re.I)
    if match is None:
        return "utf-8"
    try:
        "".encode(match.group(1))
    except LookupError:
        return "utf-8"
    return match.group(1)


async def create_text_artifact(arguments: dict[str, Any], context: ToolContext) -> Any:
    name = _string(arguments, "name")
    content = arguments.get("content")
    content_type = arguments.get("content_type") or "text/plain"
    if not ARTIFACT_NAME.match(name):
        raise ToolError("name: 1 to 128 of A-Z a-z 0-9 . _ -, starting with a letter or digit")
    if not isinstance(content, str):
        raise ToolError("argument 'content' must be a string")
    if len(content) > MAX_ARTIFACT_CHARS:
        raise ToolError(f"content is longer than {MAX_ARTIFACT_CHARS} characters")
    if content_type not in ARTIFACT_TYPES:
        raise ToolError(f"content_type must be one of {', '.join(sorted(ARTIFACT_TYPES))}")
    if context.runtime is None:
        raise ToolError("artifacts are stored only by a task running in a worker")
    await context.runtime.put_artifact(name, content_type, content, context.idempotency_key)
    task_id = context.runtime.task_id
    return {
        "name": name,
        "content_type": content_type,
        "size_bytes": len(content.encode()),
        "url": f"/v1/tasks/{task_id}/artifacts/{name}",
    }


async def request_human_input(arguments: dict[str, Any], context: ToolContext) -> Any:
    return request_input(_string(arguments, "question"))


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


BUILTINS: dict[str, Tool] = {
    t.name: t
    for t in (
        Tool(
            "calculator",
            "Compute an arithmetic expression: numbers, + - * / // % **, parentheses, "
            "abs round min max sqrt exp log log10 sin cos tan floor ceil, pi and e.",
            _object({"expression": {"type": "string"}}, ["expression"]),
            calculator,
            idempotent=True,
        ),
        Tool(
            "read_url",
            "Fetch a public http(s) page and return its text (HTML reduced to text).",
            _object({"url": {"type": "string", "format": "uri"}}, ["url"]),
            read_url,
            idempotent=True,  # a GET
        ),
        Tool(
            "create_text_artifact",
            "Save a text document the user can download from the task (same name replaces).",
            _object(
                {
                    "name": {"type": "string", "pattern": ARTIFACT_NAME.pattern},
                    "content": {"type": "string"},
                    "content_type": {"type": "string", "enum": sorted(ARTIFACT_TYPES)},
                },
                ["name", "content"],
            ),
            create_text_artifact,
            idempotent=True,  # stored under the task and name: a second write is the same row
        ),
        Tool(
            "request_human_input",
            "Ask a person a question and wait for their answer. Use it when you need a fact, a "
            "preference or a confirmation that only a person can give.",
            _object({"question": {"type": "string"}}, ["question"]),
            request_human_input,
            idempotent=True,
            journaled=False,  # the answer is durable as the task's wait
        ),
    )
}
