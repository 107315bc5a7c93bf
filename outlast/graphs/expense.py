"""An expense agent that must get a person's approval above a threshold.

`input`: `amount` (> 0), `payee`, `description`, optional `threshold` (default 100). Expenses
above the threshold wait in `waiting_for_approval` with the proposed payment; the approver may
edit its arguments (say, lower the amount) or reject it with a reason.
"""

from __future__ import annotations

from typing import Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

from outlast.context import task_context
from outlast.errors import NonRetryable
from outlast.human import request_approval

CATEGORIES = {"travel": ("flight", "train", "hotel", "taxi"), "meals": ("lunch", "dinner")}


class Expense(TypedDict, total=False):
    amount: float
    payee: str
    description: str
    threshold: float
    category: str
    decision: dict[str, Any]
    payment: dict[str, Any]


def assess(state: Expense) -> dict[str, Any]:
    amount = state.get("amount")
    if not isinstance(amount, int | float) or amount <= 0:
        raise NonRetryable("input.amount must be a number greater than 0")
    if not state.get("payee"):
        raise NonRetryable("input.payee is required")
    words = str(state.get("description", "")).lower()
    category = next((c for c, keys in CATEGORIES.items() if any(k in words for k in keys)), "other")
    return {"category": category}


def approve(state: Expense) -> dict[str, Any]:
    proposed = {"amount": state["amount"], "payee": state["payee"]}
    if state["amount"] <= float(state.get("threshold", 100)):
        return {"decision": {"approved": True, "args": proposed, "by": "policy"}}
    answer = request_approval(
        "reimburse",
        proposed,
        summary=f"{state['category']} expense: {state.get('description', '')}".strip(),
    )
    return {
        "decision": {
            "approved": answer.approved,
            "args": answer.args,
            "by": answer.decided_by or "approver",
            "comment": answer.comment,
            "reason": answer.reason,
        }
    }


def settle(state: Expense, config: RunnableConfig) -> dict[str, Any]:
    decision = state["decision"]
    if not decision["approved"]:
        return {"payment": {"status": "rejected", "reason": decision.get("reason")}}
    # The payment reference is stable across retries of this node: an idempotency key.
    reference = f"pay-{task_context(config).task_id}"
    return {"payment": {"status": "paid", "reference": reference, **decision["args"]}}


graph: StateGraph[Expense] = StateGraph(Expense)
graph.add_node("assess", assess)
graph.add_node("approve", approve)
graph.add_node("settle", settle)
graph.add_edge(START, "assess")
graph.add_edge("assess", "approve")
graph.add_edge("approve", "settle")
graph.add_edge("settle", END)
