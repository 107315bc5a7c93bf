"""A run whose graph still has nodes to run is never a completion (worker/executor.py)."""

from __future__ import annotations

import pytest
from langgraph.types import StateSnapshot

from worker.executor import UnfinishedRun, finished


def snapshot(next_nodes: tuple[str, ...]) -> StateSnapshot:
    return StateSnapshot({"n": 1}, next_nodes, {}, None, None, None, (), ())


def test_a_run_with_next_nodes_is_not_finished() -> None:
    with pytest.raises(UnfinishedRun, match="before summarize"):
        finished(snapshot(("summarize",)))


def test_a_run_at_the_end_hands_back_its_values() -> None:
    assert finished(snapshot(())) == {"n": 1}
