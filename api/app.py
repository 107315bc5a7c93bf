"""The API application: `create_app(settings)` builds it, its lifespan owns the database pool.

uvicorn api.app:create_app --factory      (or `outlast api`)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI

from api import problems
from api.access import Access, RateLimit
from api.access_log import AccessLog
from api.body import BodyGuard
from api.problems import ProblemError
from api.request_spans import RequestSpans
from api.routes import (
    agents,
    approvals,
    artifacts,
    batch,
    budgets,
    dead_letters,
    graphs,
    health,
    history,
    keys,
    metrics,
    model_calls,
    platform_assistants,
    platform_crons,
    platform_runs,
    platform_store,
    platform_threads,
    rate_limits,
    replays,
    schedules,
    streams,
    tasks,
    tool_servers,
    usage,
    webhooks,
    workers,
)
from api.streams import StreamConfig, Wakeups
from console import create_console
from console.session import Caller
from db.connect import open_pool
from outlast import __version__, database, traces
from outlast.registry import Registry
from outlast.settings import Settings

CONSOLE = "/console"
log = logging.getLogger("outlast.api")
DESCRIPTION = """Submit LangGraph tasks, follow them, cancel them, and redrive dead letters.

Every route but /healthz and /readyz takes an API key, `Authorization: Bearer olk_...`, holding
the scope its `security` names (`admin` holds every scope).

Errors are `application/problem+json` with a stable `type`; lists are cursor-paginated."""


def _document(app: FastAPI) -> None:
    """The OpenAPI document, generated once, with problem+json on every error response."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = problems.document(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _session(settings: Settings) -> dict[str, str]:
    """Every API statement is bounded: a request never waits for ever behind a lock or a slow
    plan, and answers 503 (api.problems) instead of holding its connection."""
    return {
        "statement_timeout": f"{max(int(settings.api_statement_timeout_s * 1000), 1)}ms",
        "lock_timeout": f"{max(int(settings.api_lock_timeout_s * 1000), 1)}ms",
    }


def _whoami(app: FastAPI) -> Callable[[str], Awaitable[Caller | None]]:
    """The console's key check: the API's own (api.access), so a key the API refuses signs
    nobody in, and a revoked key is signed out on its next page."""

    async def whoami(key: str) -> Caller | None:
        access: Access = app.state.access
        try:
            principal = await access.authenticate(app.state.pool, key)
        except ProblemError:
            return None
        return Caller(key, principal.key_id, principal.tenant, principal.name, principal.scopes)

    return whoami


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API for `settings` (default: from the environment). Nothing connects until the
    lifespan starts: building the app is cheap and safe in tests."""
    resolved = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if resolved.auth == "off":
            log.warning(
                "OUTLAST_AUTH=off: the API takes no API key and every caller is an admin;"
                " for local development only"
            )
        # Registry first: a malformed OUTLAST_GRAPHS fails the start before any connection.
        app.state.registry = Registry.from_spec(resolved.graphs)
        # resolve_url may start the embedded server (blocking; seconds on a cold start).
        url = await anyio.to_thread.run_sync(database.resolve_url, resolved)
        app.state.pool = await open_pool(
            url,
            max_size=resolved.api_pool_size,
            wait_s=resolved.api_pool_wait_s,
            session=_session(resolved),
        )
        app.state.wakeups = Wakeups(url)
        listening = asyncio.create_task(app.state.wakeups.run_forever())
        try:
            yield
        finally:
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening
            await app.state.pool.close()

    app = FastAPI(title="Outlast", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = resolved
    app.state.stream_config = StreamConfig(
        poll_s=resolved.stream_poll_s, gap_s=resolved.stream_gap_s
    )
    app.state.access = Access(
        enabled=resolved.auth == "on",
        limit=RateLimit(resolved.rate_limit_per_s, resolved.rate_limit_burst),
    )
    problems.install(app)
    _document(app)
    app.add_middleware(
        BodyGuard,
        max_bytes=resolved.max_body_bytes,
        max_depth=resolved.max_json_depth,
        exempt=(CONSOLE,),  # HTML forms, not JSON; the console caps and checks its own
    )
    if resolved.api_access_log:
        app.add_middleware(AccessLog)  # added last: outermost, so it sees the guard's answers
    # Outermost of all: a request's span covers what the guard and the access log do. Without
    # tracing (OUTLAST_OTEL, outlast.traces) it passes every request straight on.
    traces.configure(resolved, "outlast-api")
    app.add_middleware(RequestSpans)
    for module in (
        tasks,
        batch,
        approvals,
        history,
        dead_letters,
        workers,
        graphs,
        keys,
        agents,
        model_calls,
        replays,
        budgets,
        rate_limits,
        metrics,
        streams,
        artifacts,
        tool_servers,
        schedules,
        webhooks,
        usage,
        platform_assistants,
        platform_crons,  # before platform_runs: /runs/crons is not a run
        platform_store,
        platform_threads,
        platform_runs,
    ):
        app.include_router(module.router, responses=problems.openapi_responses())
    app.include_router(health.router, responses=problems.openapi_responses(keyed=False))
    app.mount(CONSOLE, create_console(app, _whoami(app)))
    return app
