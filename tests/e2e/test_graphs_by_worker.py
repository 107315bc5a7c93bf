"""Workers with different graph sets side by side (a rolling deploy): each claims only the graphs
it runs; a task of a graph no live worker runs stays queued, visibly, until one arrives."""

from __future__ import annotations

from typing import Any

from tests.support.api import api_client
from tests.support.observe import Observer
from tests.support.processes import Processes
from tests.support.wait import wait_until

TEXT = "Workers announce their graphs. Claims follow them."


def graphs(db_url: str) -> dict[str, dict[str, Any]]:
    with api_client(db_url) as client:  # an API with the built-in graphs only
        return {g["name"]: g for g in client.get("/v1/graphs").json()["items"]}


def test_task_waits_for_a_worker_that_runs_its_graph(
    processes: Processes, observe: Observer, db_url: str
) -> None:
    builtins_only = processes.worker(concurrency=2, OUTLAST_GRAPHS="")
    echo = observe.submit("echo", {"n": 1})  # a test function only the second worker runs
    pipeline = observe.submit("pipeline", {"text": TEXT})  # ready after the echo task
    wait_until(lambda: observe.state(pipeline) == "completed", 30, message="pipeline completed")
    # The claim that took the pipeline task would have taken the older echo task first.
    assert observe.state(echo) == "queued"
    assert observe.events(echo) == ["submitted"] and observe.task(echo)["attempts"] == 0
    assert not observe.rows("SELECT * FROM dead_letters")
    listed = graphs(db_url)
    assert (listed["echo"]["workers"], listed["echo"]["queued"]) == (0, 1)
    assert listed["echo"]["registered"] is False and listed["echo"]["import_path"] is None
    assert (listed["pipeline"]["workers"], listed["pipeline"]["registered"]) == (1, True)

    with_functions = processes.worker(concurrency=2)  # TEST_ENV's OUTLAST_GRAPHS: echo too
    wait_until(lambda: observe.state(echo) == "completed", 30, message="echo completed")
    served_by = observe.value(
        "SELECT w.pid FROM task_events AS e JOIN workers AS w ON w.id = e.worker_id"
        " WHERE e.task_id = %s AND e.kind = 'claimed'",
        echo,
    )
    assert served_by == with_functions.pid != builtins_only.pid
    announced = {
        r["pid"]: set(r["graphs"]) for r in observe.rows("SELECT pid, graphs FROM workers")
    }
    assert "echo" not in announced[builtins_only.pid] and "echo" in announced[with_functions.pid]
    listed = graphs(db_url)
    assert (listed["echo"]["workers"], listed["echo"]["queued"]) == (1, 0)
    assert listed["pipeline"]["workers"] == 2
