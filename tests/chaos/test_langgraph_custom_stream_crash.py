"""SIGKILL the worker running a LangGraph API run while the official SDK streams its `custom`
chunks (what nodes write to LangGraph's stream writer, ADR 0027): the stream carries on with the
resumed attempt; every chunk of a completed step comes once, none is lost. The step the kill cut
short runs again and writes its chunks anew: a client streaming through the kill saw that step's
first chunk before the kill and sees it again; a replay afterwards sees each chunk once (the
resumed attempt dropped the cut step's chunks before running it again)."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from langgraph_sdk import get_sync_client

from tests.support.api import live_server
from tests.support.keys import TEST_KEY
from tests.support.observe import Observer
from tests.support.processes import TEST_ENV, Processes
from tests.support.sse import custom_and_updates

MODES: Any = ["custom", "updates"]


def test_sigkill_mid_step_custom_chunks_of_completed_steps_come_once(
    db_url: str, processes: Processes, observe: Observer, tmp_path: Path
) -> None:
    gate = tmp_path / "go"
    worker = processes.worker(concurrency=1)
    processes.reaper()
    with live_server(db_url, graphs=TEST_ENV["OUTLAST_GRAPHS"]) as url:
        sdk = get_sync_client(url=url, api_key=TEST_KEY)
        # Step 1 writes part 0, then waits at the gate: the kill lands between its two chunks.
        held = {"note": "k", "steps": 3, "done": 0, "gate": str(gate), "gate_at": 1}
        parts: list[Any] = []
        for part in sdk.runs.stream(None, "progress", input=held, stream_mode=MODES):
            parts.append(part)
            if part.event == "custom" and part.data == {"step": 1, "part": 0} and not gate.exists():
                worker.signal(signal.SIGKILL)
                worker.wait(10)
                processes.worker(concurrency=1)
                gate.touch()
        run_id = parts[0].data["run_id"]
        thread_id = parts[0].data.get("thread_id", run_id)
        assert sdk.runs.get(thread_id, run_id)["status"] == "success"
        replay = list(sdk.runs.join_stream(thread_id, run_id, stream_mode=MODES))
    assert "error" not in [p.event for p in parts]
    assert custom_and_updates(parts) == [
        (0, 0),
        (0, 1),
        0,
        (1, 0),
        (1, 0),
        (1, 1),
        1,
        (2, 0),
        (2, 1),
        2,
    ]
    assert custom_and_updates(replay) == [(0, 0), (0, 1), 0, (1, 0), (1, 1), 1, (2, 0), (2, 1), 2]
    assert observe.task(run_id)["attempts"] == 2
