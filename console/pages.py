"""The console's pages and form actions. Each reads and acts through the API (console.upstream)
with the signed-in key; a page the key may not read shows the API's answer (403, 404)."""

from __future__ import annotations

import hmac
import json
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from console import charts, session
from console.session import Caller
from console.upstream import Answer

if TYPE_CHECKING:
    from console.app import Console

STATES = (
    "queued",
    "running",
    "waiting_for_approval",
    "waiting_for_input",
    "completed",
    "failed",
    "cancelled",
)
SHORT = {"waiting_for_approval": "approval", "waiting_for_input": "input"}  # chart labels
TONES = {"completed": "ok", "failed": "bad", "cancelled": "idle", "running": "run"}
Handler = Callable[[Request], Awaitable[Response]]
Page = Callable[["Console", Request, Caller], Awaitable[Response]]


def when(value: str | None) -> str:
    """An API timestamp as `YYYY-MM-DD HH:MM:SS` UTC (the raw value stays in a datetime attr)."""
    if not value:
        return "-"
    try:
        return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return value


def usd(micro: int | None) -> str:
    return "-" if micro is None else f"${micro / 1_000_000:.4f}"


def back(path: str, **query: str | None) -> RedirectResponse:
    """After a form: back to a page (303, so a reload does not post again), with a message."""
    clean = {k: v for k, v in query.items() if v}
    return RedirectResponse(f"{path}?{urlencode(clean)}" if clean else path, status_code=303)


def signed_in(console: Console, page: Page) -> Handler:
    """The page for a signed-in key; without one (or with a revoked one), the sign-in page."""

    async def handler(request: Request) -> Response:
        caller = await console.caller(request)
        if caller is None:
            response = back("/console/sign-in", next=request.url.path)
            session.forget(response)
            return response
        return await page(console, request, caller)

    return handler


def posted(console: Console, action: Callable[..., Awaitable[Response]]) -> Handler:
    """A form action: signed in, with the key's CSRF token, else 403 and nothing done."""

    async def handler(request: Request) -> Response:
        caller = await console.caller(request)
        if caller is None:
            return back("/console/sign-in")
        fields = await console.form(request, caller)
        if fields is None:
            return Response("refused: the form's CSRF token is missing or wrong", 403)
        return await action(console, request, caller, fields)

    return handler


# --- sign-in ---------------------------------------------------------------------------------


async def sign_in_page(
    console: Console, request: Request, status: int = 200, failed: bool = False
) -> Response:
    """The sign-in form; its CSRF token is a random value also set as a cookie (double submit),
    since there is no key yet to derive one from."""
    token = secrets.token_urlsafe(32)
    target = request.query_params.get("next") or "/console/"
    response = console.render(
        request, "sign_in.html", None, status=status, failed=failed, next=target, csrf=token
    )
    session.remember_sign_in(response, request, token)
    return response


async def sign_in(console: Console, request: Request) -> Response:
    declared = request.headers.get("content-length", "")
    if not declared.isdigit() or int(declared) > 8192:
        return Response("refused: the sign-in form is too large", 413)
    data = await request.form()
    sent = str(data.get("csrf") or "")
    expected = request.cookies.get(session.SIGN_IN_COOKIE, "")
    if not expected or not hmac.compare_digest(sent, expected):
        return Response("refused: the form's CSRF token is missing or wrong", 403)
    key = str(data.get("key") or "").strip()
    target = str(data.get("next") or "/console/")
    if not target.startswith("/console") or target.startswith("/console/sign-in"):
        target = "/console/"  # never an open redirect
    caller = await console.whoami(key) if key else None
    if caller is None:
        return await sign_in_page(console, request, status=401, failed=True)
    response = back(target)
    session.remember(response, request, key)
    return response


async def sign_out(
    console: Console, request: Request, caller: Caller, _: dict[str, str]
) -> Response:
    response = back("/console/sign-in", notice="Signed out.")
    session.forget(response)
    return response


# --- tasks -----------------------------------------------------------------------------------


async def tasks_page(console: Console, request: Request, caller: Caller) -> Response:
    q = request.query_params
    filters = {name: q.get(name) for name in TASK_FILTERS}
    params = {
        **filters,
        **{name: _utc(q.get(name)) for name in ("created_after", "created_before")},
    }
    answer = await console.upstream.call(caller.key, "GET", "/v1/tasks", params=params)
    live = {k: v for k, v in filters.items() if v and k in ("state", "graph", "agent")}
    return console.render(
        request,
        "tasks.html",
        caller,
        answer=answer,
        items=answer.body.get("items", []) if answer.ok else [],
        states=STATES,
        filters=filters,
        stream_query=urlencode(live),
        older=_older(filters, answer),
    )


def _older(filters: dict[str, str | None], answer: Answer) -> str | None:
    """The next page's query string, the filters kept."""
    cursor = answer.body.get("next_cursor") if answer.ok else None
    if not cursor:
        return None
    return urlencode({k: v for k, v in {**filters, "cursor": cursor}.items() if v})


# The tasks page's filters, passed to GET /v1/tasks as they are (the API checks them).
TASK_FILTERS = ("state", "graph", "agent", "created_after", "created_before", "text", "cursor")


def _utc(local: str | None) -> str | None:
    """A `datetime-local` field's value (no zone) read as UTC, as the console shows times."""
    if not local:
        return None
    return local if local.endswith("Z") or "+" in local else f"{local}+00:00"


async def tasks_cancel(
    console: Console, request: Request, caller: Caller, fields: dict[str, str]
) -> Response:
    data = await request.form()
    ids = [str(v) for v in data.getlist("task_id")]
    done, refused = 0, []
    for task_id in ids:
        answer = await console.upstream.call(caller.key, "POST", f"/v1/tasks/{task_id}/cancel")
        if answer.ok:
            done += 1
        else:
            refused.append(answer.detail)
    error = "; ".join(refused[:3]) if refused else None
    return back("/console/tasks", notice=f"Cancelled {done} of {len(ids)}.", error=error)


async def task_page(console: Console, request: Request, caller: Caller) -> Response:
    task_id = request.path_params["task_id"]
    call = console.upstream.call
    task = await call(caller.key, "GET", f"/v1/tasks/{task_id}")
    if not task.ok:
        return console.render(request, "problem.html", caller, status=task.status, answer=task)
    event_items = await _pages(console, caller, f"/v1/tasks/{task_id}/events", pages=5)
    checkpoints = await call(
        caller.key, "GET", f"/v1/tasks/{task_id}/checkpoints", params={"limit": 100}
    )
    model_calls = await call(caller.key, "GET", f"/v1/tasks/{task_id}/model-calls")
    usage = await call(caller.key, "GET", f"/v1/tasks/{task_id}/usage")
    return console.render(
        request,
        "task.html",
        caller,
        task=task.body,
        events=event_items,
        last_event=event_items[-1]["id"] if event_items else 0,
        attempts=_attempts(event_items),
        checkpoints=checkpoints.body.get("items", []) if checkpoints.ok else [],
        model_calls=_items(model_calls),
        usage=usage.body if usage.ok else None,
    )


async def _pages(console: Console, caller: Caller, path: str, pages: int) -> list[Any]:
    """Up to `pages` pages of 200 items of a list, following next_cursor."""
    items: list[Any] = []
    cursor = None
    for _ in range(pages):
        params = {"limit": 200, "cursor": cursor}
        answer = await console.upstream.call(caller.key, "GET", path, params=params)
        items.extend(_items(answer))
        cursor = answer.body.get("next_cursor") if answer.ok else None
        if not cursor:
            break
    return items


def _items(answer: Any) -> list[Any]:
    if not answer.ok:
        return []
    body = answer.body
    return list(body.get("items", [])) if isinstance(body, dict) else list(body)


def _attempts(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per claim: the attempt, its worker and lease epoch, and how it ended."""
    attempts: list[dict[str, Any]] = []
    for event in events:
        if event["kind"] == "claimed":
            attempts.append(
                {
                    "attempt": event.get("attempt"),
                    "worker_id": event.get("worker_id"),
                    "epoch": event.get("lease_epoch"),
                    "at": event["at"],
                    "ended": None,
                }
            )
        elif attempts and attempts[-1]["ended"] is None and event.get("from_state") == "running":
            attempts[-1]["ended"] = event["kind"]
    return attempts


async def task_cancel(
    console: Console, request: Request, caller: Caller, fields: dict[str, str]
) -> Response:
    task_id = request.path_params["task_id"]
    answer = await console.upstream.call(caller.key, "POST", f"/v1/tasks/{task_id}/cancel")
    path = f"/console/tasks/{task_id}"
    return back(path, notice="Cancel sent.") if answer.ok else back(path, error=answer.detail)


async def checkpoint_page(console: Console, request: Request, caller: Caller) -> Response:
    task_id = request.path_params["task_id"]
    checkpoint_id = request.path_params["checkpoint_id"]
    path = f"/v1/tasks/{task_id}/checkpoints/{checkpoint_id}"
    answer = await console.upstream.call(caller.key, "GET", path)
    if not answer.ok:
        return console.render(request, "problem.html", caller, status=answer.status, answer=answer)
    return console.render(
        request, "checkpoint.html", caller, task_id=task_id, checkpoint=answer.body
    )


async def task_fork(
    console: Console, request: Request, caller: Caller, fields: dict[str, str]
) -> Response:
    task_id = request.path_params["task_id"]
    path = f"/console/tasks/{task_id}"
    ok, patch = _json_field(fields, "state_patch")
    if not ok:
        return back(path, error="The state patch is not valid JSON.")
    body = {"checkpoint_id": fields.get("checkpoint_id", ""), "state_patch": patch}
    answer = await console.upstream.call(caller.key, "POST", f"/v1/tasks/{task_id}/fork", json=body)
    if not answer.ok:
        return back(path, error=answer.detail)
    return back(f"/console/tasks/{answer.body['id']}", notice=f"Forked from task {task_id}.")


async def task_replay(
    console: Console, request: Request, caller: Caller, fields: dict[str, str]
) -> Response:
    """POST /v1/tasks/{id}/replay: a new task that reuses the recorded answers of the calls
    before `from_call`, optionally with another model (the API checks every field)."""
    task_id = request.path_params["task_id"]
    path = f"/console/tasks/{task_id}"
    number = fields.get("from_call", "").strip()
    if not number.isdigit():
        return back(path, error="From call must be a whole number (1 is the first call).")
    body: dict[str, Any] = {"from_call": int(number)}
    for name in ("provider", "model", "system_prompt"):
        if fields.get(name, "").strip():
            body[name] = fields[name].strip()
    answer = await console.upstream.call(
        caller.key, "POST", f"/v1/tasks/{task_id}/replay", json=body
    )
    if not answer.ok:
        return back(path, error=answer.detail)
    new = answer.body["task"]["id"]
    return back(f"/console/tasks/{new}", notice=f"Replay of task {task_id} from call {number}.")


# --- inbox -----------------------------------------------------------------------------------


async def inbox_page(console: Console, request: Request, caller: Caller) -> Response:
    answer = await console.upstream.call(caller.key, "GET", "/v1/approvals", params={"limit": 100})
    return console.render(
        request, "inbox.html", caller, answer=answer, items=_items(answer) if answer.ok else []
    )


def _json_field(fields: dict[str, str], name: str) -> tuple[bool, Any]:
    text = fields.get(name, "").strip()
    if not text:
        return True, None
    try:
        return True, json.loads(text)
    except ValueError:
        return False, None


async def decide(
    console: Console, request: Request, caller: Caller, fields: dict[str, str]
) -> Response:
    task_id = str(request.path_params["task_id"])
    verb = request.path_params["verb"]
    body: dict[str, Any] = {"wait_id": fields.get("wait_id") or None}
    if verb == "approve":
        ok, args = _json_field(fields, "edited_args")
        if not ok:
            return back("/console/inbox", error="Edited arguments are not valid JSON.")
        body.update(edited_args=args, comment=fields.get("comment") or None)
    elif verb == "reject":
        body["reason"] = fields.get("reason") or "rejected in the console"
    elif verb == "input":
        ok, value = _json_field(fields, "value")
        if not ok:  # an answer that is not JSON is sent as a string
            value = fields.get("value", "")
        body["value"] = value
    else:
        return Response("unknown decision", 404)
    answer = await console.upstream.call(
        caller.key, "POST", f"/v1/tasks/{task_id}/{verb}", json=body
    )
    if answer.ok:
        return back("/console/inbox", notice=f"Task {task_id}: {verb} sent.")
    return back("/console/inbox", error=answer.detail)


# --- dead letters ----------------------------------------------------------------------------


async def dead_letters_page(
    console: Console, request: Request, caller: Caller, dry_run: Any = None, status: int = 200
) -> Response:
    q = request.query_params
    filters = {"graph": q.get("graph"), "error_type": q.get("error_type")}
    groups = await console.upstream.call(caller.key, "GET", "/v1/dead-letters/groups")
    letters = await console.upstream.call(
        caller.key, "GET", "/v1/dead-letters", params={**filters, "limit": 100}
    )
    return console.render(
        request,
        "dead_letters.html",
        caller,
        status=status,
        groups=_items(groups),
        letters=_items(letters),
        answer=letters,
        filters=filters,
        dry_run=dry_run,
    )


async def dead_letters_list(console: Console, request: Request, caller: Caller) -> Response:
    return await dead_letters_page(console, request, caller)


async def redrive_one(
    console: Console, request: Request, caller: Caller, fields: dict[str, str]
) -> Response:
    letter = request.path_params["letter_id"]
    answer = await console.upstream.call(
        caller.key, "POST", f"/v1/dead-letters/{letter}/redrive", json={"mode": "last_checkpoint"}
    )
    if answer.ok:
        return back("/console/dead-letters", notice="Redriven: the task is queued again.")
    return back("/console/dead-letters", error=answer.detail)


async def redrive_group(
    console: Console, request: Request, caller: Caller, fields: dict[str, str]
) -> Response:
    body: dict[str, Any] = {
        "graph": fields.get("graph") or None,
        "error_type": fields.get("error_type") or None,
        "dry_run": fields.get("dry_run") == "1",
    }
    answer = await console.upstream.call(caller.key, "POST", "/v1/dead-letters/redrive", json=body)
    if not answer.ok:
        return back("/console/dead-letters", error=answer.detail)
    if body["dry_run"]:
        return await dead_letters_page(console, request, caller, dry_run={**answer.body, **body})
    return back("/console/dead-letters", notice=f"Redriven {answer.body['count']} dead letters.")


# --- workers and overview --------------------------------------------------------------------


async def workers_page(console: Console, request: Request, caller: Caller) -> Response:
    answer = await console.upstream.call(caller.key, "GET", "/v1/workers", params={"limit": 100})
    return console.render(request, "workers.html", caller, answer=answer, items=_items(answer))


async def overview_page(console: Console, request: Request, caller: Caller) -> Response:
    answer = await console.upstream.call(caller.key, "GET", "/v1/tasks", params={"limit": 200})
    items = _items(answer)
    by_state = Counter(t["state"] for t in items)
    state_chart = charts.bars(
        "Tasks by state (newest 200)",
        [charts.Bar(SHORT.get(s, s), by_state[s], TONES.get(s, "wait")) for s in STATES],
    )
    now = datetime.now(UTC)
    created, finished, failed = _per_minute(items, now)
    return console.render(
        request,
        "overview.html",
        caller,
        answer=answer,
        total=len(items),
        by_state=by_state,
        states=STATES,
        state_chart=state_chart,
        created_chart=charts.bars("Tasks submitted per minute, last 30 minutes", created),
        finished_chart=charts.bars("Tasks finished per minute, last 30 minutes", finished),
        failed_chart=charts.bars("Tasks failed per minute, last 30 minutes", failed),
        cost_chart=await _cost_chart(console, caller, now),
    )


async def _cost_chart(console: Console, caller: Caller, now: datetime) -> Any:
    """Model cost per hour and agent over the last 24 hours (GET /v1/usage/hourly), in USD;
    None when the key may not read it (metrics:read)."""
    if not caller.holds("metrics:read"):
        return None
    answer = await console.upstream.call(
        caller.key, "GET", "/v1/usage/hourly", params={"hours": 24}
    )
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    hours = [start + timedelta(hours=i) for i in range(24)]
    series: dict[str, list[float]] = {}
    for row in _items(answer):
        index = int((datetime.fromisoformat(row["hour"]) - start).total_seconds() // 3600)
        if 0 <= index < 24:
            values = series.setdefault(row["agent"] or "(graphs)", [0.0] * 24)
            values[index] += row["cost_micro_usd"] / 1_000_000
    labels = [h.strftime("%H:00") for h in hours]
    return charts.stacked("Model cost per hour by agent, last 24 hours (USD)", labels, series, "$")


def _per_minute(
    items: list[dict[str, Any]], now: datetime, minutes: int = 30
) -> tuple[list[charts.Bar], list[charts.Bar], list[charts.Bar]]:
    start = now.replace(second=0, microsecond=0) - timedelta(minutes=minutes - 1)

    def bucket(stamp: str | None) -> int | None:
        if not stamp:
            return None
        index = int((datetime.fromisoformat(stamp) - start).total_seconds() // 60)
        return index if 0 <= index < minutes else None

    counts = [[0] * minutes for _ in range(3)]
    for task in items:
        for series, stamp in ((0, task.get("created_at")), (1, task.get("finished_at"))):
            if (i := bucket(stamp)) is not None:
                counts[series][i] += 1
        if task["state"] == "failed" and (i := bucket(task.get("finished_at"))) is not None:
            counts[2][i] += 1
    labels = [(start + timedelta(minutes=i)).strftime("%H:%M") for i in range(minutes)]
    tones = ("wait", "ok", "bad")
    return tuple(  # type: ignore[return-value]
        [charts.Bar(label, n, tones[s]) for label, n in zip(labels, counts[s], strict=True)]
        for s in range(3)
    )


# --- agents and keys -------------------------------------------------------------------------


async def agents_page(console: Console, request: Request, caller: Caller) -> Response:
    answer = await console.upstream.call(caller.key, "GET", "/v1/agents", params={"limit": 200})
    return console.render(request, "agents.html", caller, answer=answer, items=_items(answer))


async def agent_page(console: Console, request: Request, caller: Caller) -> Response:
    name = request.path_params["name"]
    call = console.upstream.call
    agent = await call(caller.key, "GET", f"/v1/agents/{name}")
    if not agent.ok:
        return console.render(request, "problem.html", caller, status=agent.status, answer=agent)
    versions = _items(await call(caller.key, "GET", f"/v1/agents/{name}/versions"))
    current = int(agent.body["version"])
    q = request.query_params
    low = q.get("from") or str(max(current - 1, 1))
    high = q.get("to") or str(current)
    diff = None
    if low != high:
        diff = await call(
            caller.key, "GET", f"/v1/agents/{name}/diff", params={"from": low, "to": high}
        )
    return console.render(
        request,
        "agent.html",
        caller,
        agent=agent.body,
        versions=versions,
        diff=diff,
        low=low,
        high=high,
    )


async def agent_toggle(
    console: Console, request: Request, caller: Caller, fields: dict[str, str]
) -> Response:
    name = request.path_params["name"]
    verb = "disable" if request.path_params["verb"] == "disable" else "enable"
    answer = await console.upstream.call(caller.key, "POST", f"/v1/agents/{name}/{verb}")
    path = f"/console/agents/{name}"
    return back(path, notice=f"Agent {verb}d.") if answer.ok else back(path, error=answer.detail)


async def keys_page(console: Console, request: Request, caller: Caller) -> Response:
    answer = await console.upstream.call(caller.key, "GET", "/v1/keys", params={"limit": 200})
    return console.render(request, "keys.html", caller, answer=answer, items=_items(answer))


async def key_revoke(
    console: Console, request: Request, caller: Caller, fields: dict[str, str]
) -> Response:
    key_id = request.path_params["key_id"]
    answer = await console.upstream.call(caller.key, "DELETE", f"/v1/keys/{key_id}")
    if answer.ok:
        return back("/console/keys", notice=f"Key {key_id} revoked.")
    return back("/console/keys", error=answer.detail)


# --- streams ---------------------------------------------------------------------------------


async def tenant_stream(console: Console, request: Request, caller: Caller) -> Response:
    return await console.stream(request, caller, "/v1/stream")


async def task_stream(console: Console, request: Request, caller: Caller) -> Response:
    task_id = request.path_params["task_id"]
    return await console.stream(request, caller, f"/v1/tasks/{task_id}/stream")


def routes(console: Console) -> list[Route]:
    from console import toolservers  # it builds on this module's helpers

    def page(fn: Page) -> Handler:
        return signed_in(console, fn)

    def action(fn: Callable[..., Awaitable[Response]]) -> Handler:
        return posted(console, fn)

    async def sign_in_get(request: Request) -> Response:
        return await sign_in_page(console, request)

    async def sign_in_post(request: Request) -> Response:
        return await sign_in(console, request)

    return [
        Route("/", page(overview_page)),
        Route("/sign-in", sign_in_get, methods=["GET"]),
        Route("/sign-in", sign_in_post, methods=["POST"]),
        Route("/sign-out", action(sign_out), methods=["POST"]),
        Route("/tasks", page(tasks_page)),
        Route("/tasks/cancel", action(tasks_cancel), methods=["POST"]),
        Route("/tasks/{task_id:uuid}", page(task_page)),
        Route("/tasks/{task_id:uuid}/cancel", action(task_cancel), methods=["POST"]),
        Route("/tasks/{task_id:uuid}/stream", page(task_stream)),
        Route("/tasks/{task_id:uuid}/fork", action(task_fork), methods=["POST"]),
        Route("/tasks/{task_id:uuid}/replay", action(task_replay), methods=["POST"]),
        Route("/tasks/{task_id:uuid}/checkpoints/{checkpoint_id}", page(checkpoint_page)),
        Route("/stream", page(tenant_stream)),
        Route("/inbox", page(inbox_page)),
        Route("/inbox/{task_id:uuid}/{verb}", action(decide), methods=["POST"]),
        Route("/dead-letters", page(dead_letters_list)),
        Route("/dead-letters/redrive", action(redrive_group), methods=["POST"]),
        Route("/dead-letters/{letter_id:uuid}/redrive", action(redrive_one), methods=["POST"]),
        Route("/workers", page(workers_page)),
        Route("/agents", page(agents_page)),
        Route("/agents/{name}", page(agent_page)),
        Route("/agents/{name}/{verb}", action(agent_toggle), methods=["POST"]),
        Route("/tool-servers", page(toolservers.servers_page)),
        Route("/tool-servers", action(toolservers.server_add), methods=["POST"]),
        Route("/tool-servers/{name}/{verb}", action(toolservers.server_action), methods=["POST"]),
        Route("/keys", page(keys_page)),
        Route("/keys/{key_id}/revoke", action(key_revoke), methods=["POST"]),
    ]
