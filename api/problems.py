"""Every error the API answers, as RFC 9457 problem details (`application/problem+json`).

A problem carries a stable `type` URI (clients branch on it, never on `title` or `detail`),
`title`, `status` and `detail`; field-level failures add `errors`, a list of
`{"field": "body.input.x", "rule": "...", "message": "..."}`.

    type (under https://outlast.dev/problems/)   status   raised by
    validation-error                              422      pydantic, a bad cursor, JSON guard
    malformed-json                                400      the body is not JSON
    unsupported-media-type                        415      a body that is not JSON
    payload-too-large                             413      the body is over max_body_bytes
    unknown-graph                                 422      submit names no registered graph
    idempotency-mismatch                          422      db.errors.IdempotencyMismatch
    rate-limited                                  429      the key is over its rate (Retry-After)
    unauthorized                                  401      no API key, or not a live one
    forbidden                                     403      the key lacks the route's scope
    not-found                                     404      db.errors.NotFound, unknown route
    conflict                                      409      db.errors.Conflict (with `state`)
    method-not-allowed                            405      a route without that method
    database-timeout                              503      statement_timeout or lock_timeout hit
    database-unavailable                          503      Postgres is down or the pool is full
    not-ready                                     503      /readyz
    internal-error                                500      anything else; logged, never echoed
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, cast

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg.errors import LockNotAvailable, QueryCanceled
from starlette.exceptions import HTTPException
from starlette.routing import Match

from api import json_guard
from api.schemas import Problem
from db.errors import Conflict, IdempotencyMismatch, NotFound

TYPE_BASE = "https://outlast.dev/problems/"
MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("outlast.api")

FieldError = dict[str, str]
_HTTP_SLUGS = {
    400: ("bad-request", "Bad request"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
}


def openapi_responses(*, keyed: bool = True) -> dict[int | str, dict[str, Any]]:
    """The error answers every route may give, for the OpenAPI document (served as
    application/problem+json: see `document`). `keyed`: the route takes an API key."""
    described = {
        400: "Malformed JSON",
        401: "No API key, or not a live one (WWW-Authenticate: Bearer)",
        403: "The API key lacks the route's scope (named in `scope`)",
        404: "Unknown id or route",
        409: "Wrong state",
        413: "Body too large",
        415: "Body is not JSON",
        422: "A field broke a rule (see errors)",
        429: "The API key is over its rate (Retry-After)",
        500: "Unexpected error (logged, never echoed)",
        503: "Database unavailable or a statement timed out (retry)",
    }
    if not keyed:
        for status in (401, 403, 429):
            del described[status]
    return {status: {"model": Problem, "description": text} for status, text in described.items()}


def document(spec: dict[str, Any]) -> dict[str, Any]:
    """Make the OpenAPI document say what the API answers: every error response (4xx, 5xx) is
        an `application/problem+json` Problem, FastAPI's own 422 model included; and JsonValue, the
    free JSON a request may bring (api.json_guard)."""
    problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
    for operation in _operations(spec):
        for status, response in operation.get("responses", {}).items():
            if status[0] in "45":
                response["content"] = {MEDIA_TYPE: problem}
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas["JsonValue"] = json_guard.JSON_VALUE
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return spec


def _operations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [op for item in spec.get("paths", {}).values() for op in item.values()]


def field_error(field: str, rule: str, message: str, pointer: str | None = None) -> FieldError:
    """One broken rule. `pointer` (RFC 6901, into the body) is set for body fields."""
    error = {"field": field, "rule": rule, "message": message}
    if pointer is not None:
        error["pointer"] = pointer
    return error


class ProblemError(Exception):
    """Raise anywhere in a request to answer with this problem."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        *,
        errors: Sequence[FieldError] = (),
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.slug, self.title, self.detail = status, slug, title, detail
        self.errors = list(errors)
        self.extra = extra or {}
        self.headers = headers or {}

    def response(self, headers: dict[str, str] | None = None) -> JSONResponse:
        body: dict[str, Any] = {
            "type": TYPE_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            **self.extra,
        }
        if self.errors:
            body["errors"] = self.errors
        all_headers = {**self.headers, **(headers or {})}
        return JSONResponse(body, self.status, headers=all_headers, media_type=MEDIA_TYPE)


def invalid(field: str, rule: str, message: str) -> ProblemError:
    """One field broke one rule (422)."""
    return ProblemError(
        422,
        "validation-error",
        "Request validation failed",
        f"{field}: {message}",
        errors=[field_error(field, rule, message)],
    )


def _field_name(loc: Sequence[int | str]) -> str:
    return ".".join(str(part) for part in loc)


def _body_pointer(loc: Sequence[int | str]) -> str | None:
    return json_guard.pointer(tuple(loc[1:])) if loc and loc[0] == "body" else None


async def _on_problem(_: Request, exc: Exception) -> JSONResponse:
    return cast(ProblemError, exc).response()  # registered for this class only


async def _on_validation(_: Request, exc: Exception) -> JSONResponse:
    raw = cast(RequestValidationError, exc).errors()
    errors = [
        field_error(_field_name(e["loc"]), e["type"], e["msg"], _body_pointer(e["loc"]))
        for e in raw
    ]
    if any(e["rule"] == "json_invalid" for e in errors):  # the body guard normally answers first
        return ProblemError(
            400, "malformed-json", "Malformed JSON", "the body is not valid JSON", errors=errors
        ).response()
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return ProblemError(
        422, "validation-error", "Request validation failed", detail, errors=errors
    ).response()


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    http = cast(HTTPException, exc)
    slug, title = _HTTP_SLUGS.get(http.status_code, ("http-error", "HTTP error"))
    problem = ProblemError(http.status_code, slug, title, str(http.detail))
    headers = dict(http.headers or {})
    if http.status_code == 405:
        headers["Allow"] = _allowed(request)
    return problem.response(headers=headers)


def _allowed(request: Request) -> str:
    """Every method the path serves. Starlette's 405 names only the first route that matched
    the path (GET and POST /v1/tasks are two routes), so Allow would leave one out."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return ", ".join(sorted(methods))


async def _on_not_found(_: Request, exc: Exception) -> JSONResponse:
    return ProblemError(404, "not-found", "Not found", str(exc)).response()


async def _on_conflict(_: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, IdempotencyMismatch):
        return ProblemError(
            422,
            "idempotency-mismatch",
            "Idempotency-Key reused with a different request",
            str(exc),
            errors=[field_error("header.idempotency-key", "same_request", str(exc))],
        ).response()
    state = cast(Conflict, exc).state
    extra = {"state": state} if state is not None else {}
    return ProblemError(409, "conflict", "Conflict", str(exc), extra=extra).response()


async def _on_timeout(request: Request, exc: Exception) -> JSONResponse:
    # A statement cancelled by the session's own bound: transient (a lock held elsewhere, a
    # slow plan), so 503 with Retry-After, naming which bound; never a 500.
    setting = "lock_timeout" if isinstance(exc, LockNotAvailable) else "statement_timeout"
    log.warning("database timeout (%s) in %s", setting, request.method, extra={"timeout": setting})
    return ProblemError(
        503,
        "database-timeout",
        "Database timeout",
        f"the request's statement was stopped by the API's {setting}; retry",
        extra={"timeout": setting},
    ).response(headers={"Retry-After": "1"})


async def _on_database(_: Request, exc: Exception) -> JSONResponse:
    # Connection loss and pool exhaustion are the server's trouble, and transient: 503, retry.
    log.warning("database unavailable: %s", type(exc).__name__)
    return ProblemError(
        503, "database-unavailable", "Database unavailable", "the database cannot be reached; retry"
    ).response(headers={"Retry-After": "1"})


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    # The traceback goes to the log, never to the client.
    log.error("unhandled error in %s %s", request.method, request.url.path, exc_info=exc)
    return ProblemError(
        500, "internal-error", "Internal server error", "an unexpected error occurred (logged)"
    ).response()


def install(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(HTTPException, _on_http)
    app.add_exception_handler(NotFound, _on_not_found)
    app.add_exception_handler(Conflict, _on_conflict)
    app.add_exception_handler(QueryCanceled, _on_timeout)
    app.add_exception_handler(LockNotAvailable, _on_timeout)
    app.add_exception_handler(psycopg.OperationalError, _on_database)
    app.add_exception_handler(Exception, _on_unexpected)
