"""Every REST call of Outlast's Python clients, written once (outlast.client).

`Endpoints[R]` holds one method per API operation; each builds a `Call` (method, path, query,
body, headers) and hands it to `_call`, which the clients implement: `Client._call` sends it
with httpx.Client and returns the JSON (R = Json), `AsyncClient._call` sends it with
httpx.AsyncClient and returns an awaitable of the JSON (R = Awaitable[Json]). So both clients
have the same methods, arguments and docstrings, and the answer is mapped to JSON or `ApiError`
in one place (`parse`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Generic, Literal, TypedDict, TypeVar

import httpx

from outlast import apikey
from outlast.errors import ApiError

DEFAULT_URL = "http://127.0.0.1:8000"
Json = dict[str, Any]
RedriveMode = Literal["last_checkpoint", "scratch", "checkpoint"]
R = TypeVar("R")  # what a call returns: Json, or an awaitable of it
P = TypeVar("P")  # what an iterator over pages is: Iterator[Json] or AsyncIterator[Json]


def _params(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


@dataclass(frozen=True)
class Call:
    """One request, before it is sent."""

    method: str
    path: str
    params: Json | None = None
    json: Any = None
    headers: dict[str, str] | None = None

    def send_args(self) -> dict[str, Any]:
        """The keyword arguments of httpx's `request(method, path, ...)`."""
        return {"params": self.params, "json": self.json, "headers": self.headers}


class Options(TypedDict, total=False):
    """Both clients' keyword arguments, besides their `transport`."""

    api_key: str | None  # else $OUTLAST_API_KEY, else the key `make start` saved
    timeout: float  # seconds for each request (30)


def auth_headers(api_key: str | None) -> dict[str, str]:
    """`api_key`: else $OUTLAST_API_KEY, else the key `make start` saved (outlast.apikey);
    with none, requests go without one (an API with OUTLAST_AUTH=off takes them)."""
    key = apikey.find_key(api_key)
    return {"Authorization": f"Bearer {key}"} if key else {}


def parse(response: httpx.Response) -> Json:
    """The JSON of an answer read in full; `ApiError` for a 4xx/5xx or a body that is not JSON."""
    if response.is_error:
        raise ApiError(response.status_code, problem(response))
    if response.status_code == 204:  # a delete: no body
        return {}
    try:
        body: Json = response.json()
    except ValueError:  # the URL points at something that is not Outlast
        raise ApiError(
            response.status_code,
            {
                "title": "not an Outlast API response",
                "detail": f"{response.headers.get('content-type')} from {response.url}",
            },
        ) from None
    return body


def problem(response: httpx.Response) -> Json:
    """The problem+json body; anything else (a proxy's HTML page) becomes a minimal problem."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        return body
    return {
        "title": response.reason_phrase,
        "status": response.status_code,
        "detail": response.text[:200],
    }


class Endpoints(Generic[R, P]):
    """The API's operations; a subclass says how a `Call` is sent (`_call`) and how pages are
    followed (`_items`)."""

    has_key: bool

    def _session(self, base_url: str, options: Options) -> Json:
        """The httpx client's arguments; `has_key` says whether a key was found."""
        headers = auth_headers(options.get("api_key"))
        self.has_key = bool(headers)
        return {"base_url": base_url, "timeout": options.get("timeout", 30.0), "headers": headers}

    def _call(self, call: Call) -> R:
        raise NotImplementedError

    def _items(self, page: Callable[..., R], filters: Json) -> P:
        """Every item of every page `page(**filters, cursor=...)` answers, following
        `next_cursor`."""
        raise NotImplementedError

    # Iterators over every page

    def iter_tasks(
        self, *, state: str | None = None, graph: str | None = None, limit: int | None = None
    ) -> P:
        """Every task matching the filters, newest first; `limit` is the page size."""
        return self._items(self.list, _params(state=state, graph=graph, limit=limit))

    def iter_events(self, task_id: str, *, limit: int | None = None) -> P:
        """Every event of the task so far, oldest first."""
        return self._items(partial(self.events, task_id), _params(limit=limit))

    def iter_dead_letters(
        self,
        *,
        graph: str | None = None,
        error_type: str | None = None,
        task_id: str | None = None,
        include_redriven: bool | None = None,
        limit: int | None = None,
    ) -> P:
        """Every dead letter matching the filters, oldest first."""
        filters = _params(graph=graph, error_type=error_type, task_id=task_id, limit=limit)
        filters |= _params(include_redriven=include_redriven)
        return self._items(self.dead_letters, filters)

    # Tasks

    def submit(
        self,
        graph: str | None = None,
        input: Json | None = None,  # the API's own field name
        *,
        agent: str | None = None,
        priority: int | None = None,
        run_at: datetime | None = None,
        max_attempts: int | None = None,
        timeout_s: int | None = None,
        metadata: Json | None = None,
        idempotency_key: str | None = None,
        thread_id: str | None = None,
    ) -> R:
        """`thread_id`: run on that thread (one of the LangGraph API's, ADR 0018), after its
        earlier tasks and from their state; another tenant's or an unknown thread is a 404."""
        body = _params(
            graph=graph,
            agent=agent,
            input=input,
            thread_id=thread_id,
            priority=priority,
            max_attempts=max_attempts,
            timeout_s=timeout_s,
            metadata=metadata,
            run_at=run_at.isoformat() if run_at else None,
        )
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return self._call(Call("POST", "/v1/tasks", json=body, headers=headers))

    def submit_batch(self, tasks: Sequence[Json], *, dry_run: bool = False) -> R:
        """Up to 1,000 tasks (each as the API's POST /v1/tasks body) in one transaction: all or
        none. {"tasks": [...]}, in order; with `dry_run`, every check and no write
        ({"tasks": []})."""
        params = {"dry_run": "true"} if dry_run else None
        body = {"tasks": list(tasks)}
        return self._call(Call("POST", "/v1/tasks:batch", params=params, json=body))

    def get(self, task_id: str) -> R:
        return self._call(Call("GET", f"/v1/tasks/{task_id}"))

    def replay(
        self,
        task_id: str,
        from_call: int,
        *,
        provider: str | None = None,
        model: str | None = None,
        system_prompt: str | None = None,
        temperature: float | None = None,
    ) -> R:
        """A new task replaying agent task `task_id` from its `from_call`-th model call."""
        body = _params(
            from_call=from_call,
            provider=provider,
            model=model,
            system_prompt=system_prompt,
            temperature=temperature,
        )
        return self._call(Call("POST", f"/v1/tasks/{task_id}/replay", json=body))

    def replays(self, task_id: str) -> R:
        """The task and its replays, outcome and cost side by side."""
        return self._call(Call("GET", f"/v1/tasks/{task_id}/replays"))

    def list(
        self,
        *,
        state: str | None = None,
        graph: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> R:
        """One page: {"items": [...], "next_cursor": str | None}."""
        params = _params(state=state, graph=graph, limit=limit, cursor=cursor)
        return self._call(Call("GET", "/v1/tasks", params=params))

    def cancel(self, task_id: str, reason: str | None = None) -> R:
        return self._call(Call("POST", f"/v1/tasks/{task_id}/cancel", json=_params(reason=reason)))

    def events(self, task_id: str, *, limit: int | None = None, cursor: str | None = None) -> R:
        params = _params(limit=limit, cursor=cursor)
        return self._call(Call("GET", f"/v1/tasks/{task_id}/events", params=params))

    def checkpoints(
        self, task_id: str, *, limit: int | None = None, cursor: str | None = None
    ) -> R:
        params = _params(limit=limit, cursor=cursor)
        return self._call(Call("GET", f"/v1/tasks/{task_id}/checkpoints", params=params))

    def checkpoint(self, task_id: str, checkpoint_id: str) -> R:
        """The state at one checkpoint: values, next nodes, pending interrupts."""
        return self._call(Call("GET", f"/v1/tasks/{task_id}/checkpoints/{checkpoint_id}"))

    def fork(self, task_id: str, checkpoint_id: str, state_patch: Json | None = None) -> R:
        body = _params(checkpoint_id=checkpoint_id, state_patch=state_patch)
        return self._call(Call("POST", f"/v1/tasks/{task_id}/fork", json=body))

    def follow_up(
        self, task_id: str, *, message: str | None = None, graph_input: Json | None = None
    ) -> R:
        body = _params(message=message, input=graph_input)
        return self._call(Call("POST", f"/v1/tasks/{task_id}/messages", json=body))

    # Humans in the loop

    def approvals(
        self,
        *,
        graph: str | None = None,
        kind: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> R:
        """One page of the inbox: open waits, oldest first."""
        params = _params(graph=graph, kind=kind, limit=limit, cursor=cursor)
        return self._call(Call("GET", "/v1/approvals", params=params))

    def waits(self, task_id: str) -> R:
        return self._call(Call("GET", f"/v1/tasks/{task_id}/waits"))

    def approve(
        self,
        task_id: str,
        *,
        edited_args: Json | None = None,
        comment: str | None = None,
        wait_id: str | None = None,
    ) -> R:
        """Recorded as decided by this client's API key."""
        body = _params(edited_args=edited_args, comment=comment, wait_id=wait_id)
        return self._call(Call("POST", f"/v1/tasks/{task_id}/approve", json=body))

    def reject(
        self,
        task_id: str,
        reason: str,
        *,
        wait_id: str | None = None,
    ) -> R:
        body = _params(reason=reason, wait_id=wait_id)
        return self._call(Call("POST", f"/v1/tasks/{task_id}/reject", json=body))

    def answer(
        self,
        task_id: str,
        value: Any,
        *,
        wait_id: str | None = None,
    ) -> R:
        body = {"value": value, **_params(wait_id=wait_id)}
        return self._call(Call("POST", f"/v1/tasks/{task_id}/input", json=body))

    # Dead letters

    def dead_letters(
        self,
        *,
        graph: str | None = None,
        error_type: str | None = None,
        task_id: str | None = None,
        include_redriven: bool | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> R:
        params = _params(
            graph=graph,
            error_type=error_type,
            task_id=task_id,
            limit=limit,
            include_redriven=include_redriven,
            cursor=cursor,
        )
        return self._call(Call("GET", "/v1/dead-letters", params=params))

    def dead_letter(self, dead_letter_id: str) -> R:
        return self._call(Call("GET", f"/v1/dead-letters/{dead_letter_id}"))

    def dead_letter_groups(self) -> R:
        return self._call(Call("GET", "/v1/dead-letters/groups"))

    def redrive(
        self,
        dead_letter_id: str,
        *,
        mode: RedriveMode = "last_checkpoint",
        checkpoint_id: str | None = None,
        max_attempts: int | None = None,
    ) -> R:
        body = _params(mode=mode, checkpoint_id=checkpoint_id, max_attempts=max_attempts)
        return self._call(Call("POST", f"/v1/dead-letters/{dead_letter_id}/redrive", json=body))

    def redrive_many(
        self,
        *,
        graph: str | None = None,
        error_type: str | None = None,
        mode: Literal["last_checkpoint", "scratch"] = "last_checkpoint",
        limit: int | None = None,
        dry_run: bool = False,
        max_attempts: int | None = None,
    ) -> R:
        body = _params(
            graph=graph,
            error_type=error_type,
            mode=mode,
            limit=limit,
            dry_run=dry_run,
            max_attempts=max_attempts,
        )
        return self._call(Call("POST", "/v1/dead-letters/redrive", json=body))

    # The rest

    def workers(
        self, *, state: str | None = None, limit: int | None = None, cursor: str | None = None
    ) -> R:
        return self._call(
            Call("GET", "/v1/workers", params=_params(state=state, limit=limit, cursor=cursor))
        )

    def graphs(self) -> R:
        return self._call(Call("GET", "/v1/graphs"))

    # Schedules

    def create_schedule(
        self,
        name: str,
        cron: str,
        *,
        graph: str | None = None,
        agent: str | None = None,
        input: Json | None = None,
        timezone: str | None = None,
        catch_up: str | None = None,
        max_attempts: int | None = None,
    ) -> R:
        """A cron schedule (docs/howto/schedules.md); its first slot is the first after now."""
        body = {"name": name, "cron": cron}
        body |= _params(graph=graph, agent=agent, input=input, timezone=timezone)
        body |= _params(catch_up=catch_up, max_attempts=max_attempts)
        return self._call(Call("POST", "/v1/schedules", json=body))

    def schedules(self) -> R:
        """{"items": [...]}: every schedule, with its next runs."""
        return self._call(Call("GET", "/v1/schedules"))

    def schedule(self, name: str) -> R:
        """One schedule, its next runs and the latest tasks it submitted."""
        return self._call(Call("GET", f"/v1/schedules/{name}"))

    def pause_schedule(self, name: str) -> R:
        return self._call(Call("POST", f"/v1/schedules/{name}/pause"))

    def resume_schedule(self, name: str) -> R:
        return self._call(Call("POST", f"/v1/schedules/{name}/resume"))

    def delete_schedule(self, name: str) -> R:
        return self._call(Call("DELETE", f"/v1/schedules/{name}"))

    # Webhooks (admin scope)

    def create_webhook(
        self,
        name: str,
        url: str,
        events: Sequence[str],
        *,
        allow_private: bool | None = None,
    ) -> R:
        """A webhook (docs/howto/webhooks.md); its `secret` is in this answer only."""
        body = {"name": name, "url": url, "events": list(events)}
        body |= _params(allow_private=allow_private)
        return self._call(Call("POST", "/v1/webhooks", json=body))

    def webhooks(self) -> R:
        """{"items": [...]}: every webhook of the tenant, without secrets."""
        return self._call(Call("GET", "/v1/webhooks"))

    def webhook(self, name: str) -> R:
        """One webhook and its newest deliveries."""
        return self._call(Call("GET", f"/v1/webhooks/{name}"))

    def update_webhook(
        self,
        name: str,
        *,
        url: str | None = None,
        events: Sequence[str] | None = None,
        allow_private: bool | None = None,
    ) -> R:
        """Change what is given; deliveries not sent yet go to the new URL."""
        body = _params(url=url, events=None if events is None else list(events))
        body |= _params(allow_private=allow_private)
        return self._call(Call("PATCH", f"/v1/webhooks/{name}", json=body))

    def pause_webhook(self, name: str) -> R:
        return self._call(Call("POST", f"/v1/webhooks/{name}/pause"))

    def resume_webhook(self, name: str) -> R:
        """Deliver again, from now on (events during the pause are skipped)."""
        return self._call(Call("POST", f"/v1/webhooks/{name}/resume"))

    def delete_webhook(self, name: str) -> R:
        return self._call(Call("DELETE", f"/v1/webhooks/{name}"))

    # API keys (admin scope)

    def create_key(
        self, scopes: Sequence[str], *, name: str | None = None, tenant: str | None = None
    ) -> R:
        """A new key; its `key` (the secret) is in this answer only."""
        body = {"scopes": list(scopes), **_params(name=name, tenant=tenant)}
        return self._call(Call("POST", "/v1/keys", json=body))

    def keys(
        self, *, tenant: str | None = None, limit: int | None = None, cursor: str | None = None
    ) -> R:
        params = _params(tenant=tenant, limit=limit, cursor=cursor)
        return self._call(Call("GET", "/v1/keys", params=params))

    def revoke_key(self, key_id: str, *, tenant: str | None = None) -> R:
        return self._call(Call("DELETE", f"/v1/keys/{key_id}", params=_params(tenant=tenant)))
