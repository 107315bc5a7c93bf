"""A worker with a provider key claims nothing until that vendor's SDK has loaded (in a thread):
a task claimed earlier imported the SDK on the event loop at its first model call, which held
the loop, and the heartbeat with it, past a short lease (tests/e2e/test_secret_canary.py failed
that way on a loaded machine)."""

from __future__ import annotations

import json

from tests.support.observe import Observer
from tests.support.processes import Processes
from tests.support.wait import wait_until


def messages(output: str) -> list[str]:
    lines = []
    for line in output.splitlines():
        try:
            lines.append(json.loads(line)["msg"])
        except (ValueError, KeyError, TypeError):
            continue
    return lines


def test_a_worker_claims_only_after_its_model_sdks_loaded(
    processes: Processes, observe: Observer
) -> None:
    task_id = observe.submit("pipeline", {"text": "Queued before the worker starts."})
    worker = processes.worker(OPENAI_API_KEY="sk-warm-up-test")
    wait_until(lambda: observe.state(task_id) == "completed", 60, message="task completed")
    said = messages(worker.output())
    assert "model SDKs loaded" in said, said
    assert "claimed" in said, said
    assert said.index("model SDKs loaded") < said.index("claimed"), said
