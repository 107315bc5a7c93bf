"""The console: server-rendered pages at /console over the API (docs/console.md).

    api.app.create_app  --mounts-->  console.create_console(api, whoami)  --calls-->  the API

`api` is the API's own ASGI app: every read and every action is an API request made with the
signed-in key (console.upstream), so the console can show and do exactly what that key's
tenant and scopes allow, no more. `whoami` turns a key into its tenant and scopes (the API's
own key check), to sign in and to leave out of the menu what the key may not open.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import psycopg
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from console import pages, session
from console.session import Caller
from console.upstream import Upstream

HERE = Path(__file__).parent
WhoAmI = Callable[[str], Awaitable[Caller | None]]
MAX_FORM_BYTES = 256 * 1024  # the API's body guard does not see console forms; this cap does

# The menu: (path, label, scope the page's API reads need)
MENU = (
    ("/console/", "Overview", "tasks:read"),
    ("/console/tasks", "Tasks", "tasks:read"),
    ("/console/inbox", "Inbox", "approvals:decide"),
    ("/console/dead-letters", "Dead letters", "dead-letters:operate"),
    ("/console/workers", "Workers", "agents:admin"),
    ("/console/agents", "Agents", "agents:admin"),
    ("/console/tool-servers", "Tool servers", "agents:admin"),
    ("/console/keys", "Keys", "admin"),
)


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pretty"] = lambda value: json.dumps(value, indent=2, sort_keys=True, default=str)
    env.filters["when"] = pages.when
    env.filters["usd"] = pages.usd
    return env


class Console:
    def __init__(self, api: ASGIApp, whoami: WhoAmI) -> None:
        self.upstream = Upstream(api)
        self.whoami = whoami
        self.env = _environment()

    async def caller(self, request: Request) -> Caller | None:
        key = session.key_of(request)
        return await self.whoami(key) if key else None

    def render(
        self, request: Request, template: str, caller: Caller | None, status: int = 200, **ctx: Any
    ) -> HTMLResponse:
        menu = [(p, label) for p, label, scope in MENU if caller and caller.holds(scope)]
        html = self.env.get_template(template).render(
            request=request,
            me=caller,
            menu=menu,
            path=request.url.path,
            notice=request.query_params.get("notice"),
            error=request.query_params.get("error"),
            **ctx,
        )
        response = HTMLResponse(html, status_code=status)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:;"
            " frame-ancestors 'none'; form-action 'self'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    async def form(self, request: Request, caller: Caller) -> dict[str, str] | None:
        """The posted form, or None when it is too large or its CSRF token is not the key's."""
        declared = request.headers.get("content-length")
        if declared is None or not declared.isdigit() or int(declared) > MAX_FORM_BYTES:
            return None
        data = await request.form()
        fields = {k: v for k, v in data.multi_items() if isinstance(v, str)}
        if not session.csrf_ok(caller.key, fields.get("csrf")):
            return None
        return fields

    async def stream(self, request: Request, caller: Caller, path: str) -> Response:
        """An API event stream, passed through (an EventSource cannot send Authorization)."""
        params = {k: v for k, v in request.query_params.items() if v}
        status, body = await self.upstream.stream(
            caller.key, path, params, request.headers.get("last-event-id")
        )
        return StreamingResponse(
            body,
            status_code=status,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )


def create_console(api: ASGIApp, whoami: WhoAmI) -> Starlette:
    console = Console(api, whoami)
    routes = [
        *pages.routes(console),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Starlette(routes=routes, exception_handlers={psycopg.OperationalError: _unavailable})


async def _unavailable(_: Request, exc: Exception) -> Response:
    """The database is down or the API's pool is exhausted (the sign-in check needs it): 503 and
    Retry-After, as the API answers, never a 500."""
    return HTMLResponse(
        "<!doctype html><title>Unavailable</title><p>The database is busy or unreachable;"
        " reload in a moment.</p>",
        status_code=503,
        headers={"Retry-After": "1"},
    )
