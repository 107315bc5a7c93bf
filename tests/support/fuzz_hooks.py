"""Schemathesis hooks for tests/integration/test_api_fuzz.py (loaded through SCHEMATHESIS_HOOKS).

Values the OpenAPI document cannot enumerate: which graphs are registered (they are served at
run time, GET /v1/graphs), which cursors a list made (opaque), and which Idempotency-Keys were
used already (a key reused with another body is a 422, by design). And the run's own API key
is never the one a generated DELETE /v1/keys/{key_id} revokes. A request the generator
calls valid gets a registered graph, no cursor and a fresh key, so "valid" means valid; invalid
requests are left as generated.
"""

from __future__ import annotations

import uuid
from collections.abc import MutableMapping
from typing import Any

import schemathesis
from schemathesis import GenerationMode

from tests.support.keys import KEY_ID

GRAPH = "pipeline"


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: schemathesis.Case, kwargs: Any) -> None:
    path = case.path_parameters
    if isinstance(path, MutableMapping) and str(path.get("key_id", "")).endswith(KEY_ID):
        path["key_id"] = "olk_ffffffffffff"  # never revoke the key the run itself uses
    if case.meta is None or case.meta.generation.mode != GenerationMode.POSITIVE:
        return
    if isinstance(case.query, MutableMapping):
        case.query.pop("cursor", None)
    if isinstance(case.headers, MutableMapping) and "Idempotency-Key" in case.headers:
        case.headers["Idempotency-Key"] = str(uuid.uuid4())
    body = case.body
    if isinstance(body, dict):
        _registered(body)
    if isinstance(body, dict) and isinstance(body.get("tasks"), list):
        for item in body["tasks"]:
            if isinstance(item, dict):
                _registered(item)


def _registered(task: dict[str, Any]) -> None:
    """A task submit that names a registered graph (agents are made at run time too, so a
    generated agent name becomes the graph)."""
    task.pop("thread_id", None)  # a made-up thread is no thread of the caller's (404)
    if isinstance(task.get("assistant_id"), str):
        task["assistant_id"] = GRAPH  # a LangGraph API run (ADR 0018)
    agent = task.pop("agent", None)
    if isinstance(task.get("graph"), str) or isinstance(agent, str):
        task["graph"] = GRAPH
