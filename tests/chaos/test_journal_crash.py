"""SIGKILL a worker after the model answered a node's call and before the node's checkpoint: the
node runs again on another worker, which reuses the journaled response, so the model server sees
the call once."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.support.fake_llm import OPENAI, FakeLLM, Reply
from tests.support.observe import Observer
from tests.support.processes import TEST_ENV, Processes
from tests.support.wait import wait_until

GRAPHS = TEST_ENV["OUTLAST_GRAPHS"] + ",journaled=tests.support.journaled:journaled"


def test_call_answered_before_a_crash_is_not_made_again(
    processes: Processes, observe: Observer, fake: FakeLLM, tmp_path: Path
) -> None:
    env = {
        "OUTLAST_GRAPHS": GRAPHS,
        "OPENAI_API_KEY": "sk-dummy",
        "OPENAI_BASE_URL": f"{fake.url}/v1",
    }
    fake.script(OPENAI, Reply("the answer", input_tokens=12, output_tokens=3))
    gate = tmp_path / "gate"
    first = processes.worker(concurrency=1, **env)
    task_id = observe.submit("journaled", {"question": "what now?", "gate": str(gate)})

    def call_status() -> str | None:
        status: str | None = observe.value(
            "SELECT status FROM llm_calls WHERE task_id = %s ORDER BY id DESC LIMIT 1", task_id
        )
        return status

    wait_until(lambda: call_status() == "completed", 60, message="the model call journaled")
    first.signal(signal.SIGKILL)
    first.wait(10)
    assert observe.checkpoints(task_id)[-1]["step"] < 1  # the node's checkpoint never landed
    gate.touch()

    processes.worker(concurrency=1, **env)
    processes.reaper()
    wait_until(lambda: observe.state(task_id) == "completed", 60, message="task completed")

    assert observe.task(task_id)["result"]["answer"] == "the answer"
    assert observe.task(task_id)["attempts"] == 2
    assert len(fake.requests(OPENAI)) == 1
    calls = observe.rows(
        "SELECT status, lease_epoch, input_tokens FROM llm_calls WHERE task_id = %s", task_id
    )
    assert calls == [{"status": "completed", "lease_epoch": 1, "input_tokens": 12}]
