"""The offline provider: a deterministic stand-in model for demos and tests. It makes no network
call, needs no key, and knows nothing; choose it by name (`offline`), it is never a fallback.

The same request always gives the same response:

- If tools are offered and the last message is a user message with a line
  `/tool NAME {"json": "args"}` naming an offered tool, it answers with that tool call (the
  arguments are optional; text after NAME that is not a JSON object gives a malformed call, with
  its `error` recorded, as a real model's would).
- If the last message is a tool result, it answers `offline: tool returned: <content>`.
- Otherwise it answers `offline reply: <the last message's text>`.

Usage is plausible, not exact: about one token per four characters of the request and reply.
"""

from __future__ import annotations

import math
import re

from outlast.models.messages import (
    ModelRequest,
    ModelResponse,
    ToolCall,
    ToolResultMessage,
    Usage,
    UserMessage,
    tool_call,
)
from outlast.models.provider import OnText

TOOL_LINE = re.compile(r"^/tool\s+([A-Za-z0-9_-]+)\s*(.*)$", re.M)


class OfflineProvider:
    name = "offline"

    def __repr__(self) -> str:
        return "OfflineProvider()"

    async def aclose(self) -> None:
        return None

    async def complete(
        self,
        model: str,
        request: ModelRequest,
        *,
        timeout_s: float,
        on_text: OnText | None = None,
    ) -> ModelResponse:
        call = _requested_call(request)
        text = "" if call else _reply(request)
        if on_text is not None:
            for piece in re.findall(r"\S+\s*", text):
                await on_text(piece)
        return ModelResponse(
            content=text,
            tool_calls=(call,) if call else (),
            stop_reason="tool_use" if call else "end_turn",
            raw_stop_reason="tool_use" if call else "end_turn",
            usage=_usage(request, text, call),
            provider=self.name,
            model=model,
        )


def _requested_call(request: ModelRequest) -> ToolCall | None:
    last = request.messages[-1]
    if not request.tools or not isinstance(last, UserMessage):
        return None
    match = TOOL_LINE.search(last.content)
    if match is None or match.group(1) not in {t.name for t in request.tools}:
        return None
    return tool_call(f"offline-{request.digest()[:16]}", match.group(1), match.group(2))


def _reply(request: ModelRequest) -> str:
    last = request.messages[-1]
    if isinstance(last, ToolResultMessage):
        return f"offline: tool returned: {last.content}"
    return f"offline reply: {getattr(last, 'content', '')}"


def _tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


def _usage(request: ModelRequest, text: str, call: ToolCall | None) -> Usage:
    output = text + (call.model_dump_json() if call else "")
    return Usage(input_tokens=_tokens(request.model_dump_json()), output_tokens=_tokens(output))
