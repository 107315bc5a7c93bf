"""An intake form that asks a person two questions, one after the other.

Each answer is checked by the API against the JSON Schema the question carries; an invalid
answer gets a 422 and the task keeps waiting. `input.timeout_s` (optional) bounds each wait, and
then the quantity question falls back to its default of 1.
"""

from __future__ import annotations

from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph

from outlast.human import request_input


class Intake(TypedDict, total=False):
    timeout_s: float
    name: str
    quantity: int
    order: str


def ask_name(state: Intake) -> dict[str, Any]:
    name = request_input(
        "What is your name?",
        schema={"type": "string", "minLength": 1, "maxLength": 100},
        timeout_s=state.get("timeout_s"),
        default="anonymous",  # used only if the task sets on_wait_timeout=default
    )
    return {"name": name}


def ask_quantity(state: Intake) -> dict[str, Any]:
    quantity = request_input(
        f"How many units, {state['name']}?",
        schema={"type": "integer", "minimum": 1, "maximum": 1000},
        timeout_s=state.get("timeout_s"),
        on_timeout="default",
        default=1,
    )
    return {"quantity": quantity}


def confirm(state: Intake) -> dict[str, Any]:
    return {"order": f"{state['quantity']} unit(s) for {state['name']}"}


graph: StateGraph[Intake] = StateGraph(Intake)
graph.add_node("ask_name", ask_name)
graph.add_node("ask_quantity", ask_quantity)
graph.add_node("confirm", confirm)
graph.add_edge(START, "ask_name")
graph.add_edge("ask_name", "ask_quantity")
graph.add_edge("ask_quantity", "confirm")
graph.add_edge("confirm", END)
