"""The state machine lives in three places (SQL CHECK, db/states.py, docs/state-machine.md);
this keeps them equal, and every named transition is a real statement in db/queries."""

from __future__ import annotations

import re
from pathlib import Path

from db.sql import QUERIES
from db.states import TRANSITIONS, TaskState

REPO = Path(__file__).resolve().parents[2]
MIGRATION = REPO / "db/migrations/versions/20261123_0001_queue.py"
DIAGRAM = REPO / "docs/state-machine.md"


def check_constraint_states() -> set[str]:
    text = MIGRATION.read_text()
    states = re.search(r"STATES = \((.*?)\)\n", text, re.S)
    assert states is not None
    return set(re.findall(r"'(\w+)'", states.group(1)))


def diagram_edges() -> set[tuple[str, str, str]]:
    mermaid = DIAGRAM.read_text().split("```mermaid", 1)[1].split("```", 1)[0]
    return set(re.findall(r"^\s*(\w+) --> (\w+) ?: ?(\w+)", mermaid, re.M))


def test_sql_check_lists_exactly_the_python_states() -> None:
    assert check_constraint_states() == {s.value for s in TaskState}


def test_diagram_draws_exactly_the_python_transitions() -> None:
    python = {(a.value, b.value, statement) for a, b, statement in TRANSITIONS}
    assert diagram_edges() == python


def test_every_transition_is_a_named_statement() -> None:
    assert {statement for _, _, statement in TRANSITIONS} <= set(QUERIES)


def test_terminal_states_only_leave_by_operator_action() -> None:
    assert {stmt for a, _, stmt in TRANSITIONS if a == TaskState.CANCELLED} == set()
    assert {stmt for a, _, stmt in TRANSITIONS if a == TaskState.FAILED} == {"dead_letters_redrive"}
    assert {stmt for a, _, stmt in TRANSITIONS if a == TaskState.COMPLETED} == {"tasks_follow_up"}


def test_waiting_states_hold_no_worker() -> None:
    """Every way into a waiting state is waits_park, which releases the lease."""
    waiting = {TaskState.WAITING_FOR_APPROVAL, TaskState.WAITING_FOR_INPUT}
    entries = {stmt for a, b, stmt in TRANSITIONS if b in waiting and a not in waiting}
    assert entries == {"waits_park"}
    assert "worker_id = NULL" in QUERIES["waits_park"]
