"""Asking a person, from inside a graph node. Both helpers call LangGraph's `interrupt()`: the
run stops, the task waits (`waiting_for_approval` / `waiting_for_input`) holding no worker, and
when someone answers over the API any worker resumes the node and the helper returns the answer.

A plain `interrupt(value)` works too: it becomes an input wait, and the posted value is what
`interrupt()` returns.

Code before the helper runs again on resume (LangGraph re-runs the node), so keep side effects
after it, or idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from langgraph.types import interrupt

__all__ = ["Approval", "request_approval", "request_input"]

MARKER = "outlast"


@dataclass(frozen=True)
class Approval:
    """A person's decision on a proposed action. `args` are the arguments to act with: the
    proposed ones, or the ones the approver edited."""

    approved: bool
    args: dict[str, Any]
    comment: str | None = None
    reason: str | None = None
    decided_by: str | None = None
    timed_out: bool = False


def request_approval(
    action: str,
    args: dict[str, Any],
    *,
    summary: str | None = None,
    timeout_s: float | None = None,
    on_timeout: Literal["fail", "reject"] | None = None,
) -> Approval:
    """Ask a person to approve `action` with `args` (they may edit the args). On timeout the
    task fails (default) or the action counts as rejected."""
    answer = interrupt(
        {
            MARKER: "approval",
            "action": action,
            "args": args,
            "summary": summary,
            "timeout_s": timeout_s,
            "on_timeout": on_timeout,
        }
    )
    return Approval(
        approved=bool(answer.get("approved")),
        args=dict(answer.get("args") or args),
        comment=answer.get("comment"),
        reason=answer.get("reason"),
        decided_by=answer.get("decided_by"),
        timed_out=bool(answer.get("timed_out")),
    )


def request_input(
    question: str,
    *,
    schema: dict[str, Any] | None = None,
    timeout_s: float | None = None,
    on_timeout: Literal["fail", "default"] | None = None,
    default: Any = None,
) -> Any:
    """Ask a person for a value; the API checks it against `schema` (JSON Schema) when given.
    On timeout the task fails (default) or the helper returns `default`."""
    return interrupt(
        {
            MARKER: "input",
            "question": question,
            "schema": schema,
            "timeout_s": timeout_s,
            "on_timeout": on_timeout,
            "default": default,
        }
    )


def wait_kind(payload: Any) -> Literal["approval", "input"]:
    """Which wait an interrupt payload asks for: an approval only when a helper said so."""
    if isinstance(payload, dict) and payload.get(MARKER) == "approval":
        return "approval"
    return "input"


def wait_schema(payload: Any) -> dict[str, Any] | None:
    if isinstance(payload, dict) and payload.get(MARKER) == "input":
        schema = payload.get("schema")
        return schema if isinstance(schema, dict) else None
    return None
