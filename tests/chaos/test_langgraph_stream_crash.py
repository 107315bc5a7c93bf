"""SIGKILL the worker running a LangGraph API run while the official SDK streams it: the stream
carries on with the resumed attempt (ADR 0018: a run's stream is an offset into its checkpoint
rows, which the next attempt continues), with no error frame and no step sent twice."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from langgraph_sdk import get_sync_client

from tests.support.api import live_server
from tests.support.keys import TEST_KEY
from tests.support.observe import Observer
from tests.support.processes import TEST_ENV, Processes


def test_sigkill_mid_stream_the_sdk_stream_carries_on_with_the_resumed_attempt(
    db_url: str, processes: Processes, observe: Observer, tmp_path: Path
) -> None:
    gate = tmp_path / "go"
    worker = processes.worker(concurrency=1)
    processes.reaper()
    with live_server(db_url, graphs=TEST_ENV["OUTLAST_GRAPHS"]) as url:
        sdk = get_sync_client(url=url, api_key=TEST_KEY)
        thread_id = sdk.threads.create()["thread_id"]
        # Step 2 waits at the gate: the kill lands mid-run however slow the machine is.
        held = {"note": "k", "steps": 4, "done": 0, "gate": str(gate), "gate_at": 2}
        parts: list[Any] = []
        for part in sdk.runs.stream(
            thread_id, "notes", input=held, stream_mode=["values", "updates"]
        ):
            parts.append(part)
            if part.event == "values" and part.data.get("notes") == ["k-0", "k-1"]:
                worker.signal(signal.SIGKILL)
                worker.wait(10)
                processes.worker(concurrency=1)
                gate.touch()
        run_id = parts[0].data["run_id"]
        assert sdk.runs.get(thread_id, run_id)["status"] == "success"
    events = [p.event for p in parts]
    assert events[0] == "metadata"
    assert "error" not in events
    values = [p.data["notes"] for p in parts if p.event == "values"]
    assert values[-1] == ["k-0", "k-1", "k-2", "k-3"]
    updates = [p.data["note"]["notes"] for p in parts if p.event == "updates"]
    assert updates == [["k-0"], ["k-1"], ["k-2"], ["k-3"]]  # each step once, across the kill
    assert observe.task(run_id)["attempts"] == 2
