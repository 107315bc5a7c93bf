"""A span per API request (outlast.traces), when tracing is on: `{method} {route}`, kind SERVER,
continuing the caller's trace when the request carries a W3C `traceparent`. A submit writes the
span's context into the task (outlast.traces.with_traceparent), so the task's attempts join it.

Written here rather than taken from OpenTelemetry's ASGI instrumentation: that one records the
full URL with its query string, the client's address and user agent, and a span per ASGI
message; this records the method, the route template, the path and the status, nothing a caller
sent in a header or a body."""

from __future__ import annotations

from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from outlast import traces


class RequestSpans:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not traces.enabled():
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        parent = headers.get(b"traceparent", b"").decode("latin-1")
        state = headers.get(b"tracestate", b"").decode("latin-1")
        method = scope["method"]
        status: list[int] = []

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        with traces.span(
            method,
            context=traces.parent_of(parent or None, state or None),
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": method,
                "url.path": scope["path"],
                "url.scheme": scope.get("scheme", "http"),
            },
        ) as span:
            try:
                await self.app(scope, receive, sending)
            finally:
                route = getattr(scope.get("route"), "path", None)
                if isinstance(route, str):
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
                if status:
                    span.set_attribute("http.response.status_code", status[0])
                    if status[0] >= 500:
                        span.set_attribute("error.type", str(status[0]))
                        span.set_status(Status(StatusCode.ERROR))
