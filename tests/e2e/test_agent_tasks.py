"""Tasks submitted to an agent, end to end: the API in-process, a real worker process, the fake
model server speaking OpenAI's wire format to the real SDK.

The built-in agent graph loops model -> tools -> model with the pinned version's system prompt
and temperature; a tool outside the agent's allow-list and a tool this worker lacks come back
to the model as tool errors; the task pins the version it was submitted with even when the agent
changes before it runs; costs are summed per step, task and agent; a replay from call N sends
the provider only the calls from N on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.support.api import api_client
from tests.support.fake_llm import OPENAI, FakeLLM, Reply
from tests.support.processes import TEST_ENV, Processes
from tests.support.wait import wait_until

AGENT = {
    "name": "researcher",
    "provider": "openai",
    "model": "gpt-test",
    "system_prompt": "You are terse.",
    "temperature": 0.5,
    "max_tokens": 300,
    "allowed_tools": ["request_human_input", "calculator"],
}
ASK = {"messages": [{"role": "user", "content": "what is 6 times 7?"}]}


@pytest.fixture
def api(db_url: str) -> Iterator[TestClient]:
    with api_client(db_url, graphs=TEST_ENV["OUTLAST_GRAPHS"]) as client:
        yield client


@pytest.fixture
def worker_env(fake: FakeLLM, tmp_path: Path) -> dict[str, str]:
    prices = tmp_path / "prices.toml"
    prices.write_text('[openai."gpt-test"]\ninput = 2\noutput = 10\n')
    return {
        # The first model call imports the vendor's SDK on the worker's loop, which can outlast
        # the tests' 2 s lease on a loaded machine.
        "OUTLAST_LEASE_TTL_S": "15",
        "OPENAI_API_KEY": "sk-dummy",
        "OPENAI_BASE_URL": f"{fake.url}/v1",
        "OUTLAST_MODEL_PRICES_FILE": str(prices),
    }


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def finished(api: TestClient, task_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        task: dict[str, Any] = ok(api.get(f"/v1/tasks/{task_id}"))
        return task if task["state"] in ("completed", "failed") else None

    task = wait_until(done, 60, message=f"task {task_id} finished")
    assert task["state"] == "completed", task["error"]
    return task


def tool_loop(fake: FakeLLM) -> None:
    """Three model calls: a call of a tool the agent may not use, a call of an allowed tool
    (the calculator, run through the tool ledger), then the answer."""
    fake.script(
        OPENAI,
        Reply("", tool_calls=(("read_url", '{"url": "http://x"}'),), input_tokens=100),
        Reply("", tool_calls=(("calculator", '{"expression": "6*7"}'),), input_tokens=200),
        Reply("42", input_tokens=300, output_tokens=7),
    )


def test_agent_task_runs_the_tool_loop_with_the_pinned_version(
    api: TestClient, fake: FakeLLM, processes: Processes, worker_env: dict[str, str]
) -> None:
    ok(api.post("/v1/agents", json=AGENT), 201)
    submitted = ok(api.post("/v1/tasks", json={"agent": "researcher", "input": ASK}), 201)
    assert (submitted["agent"], submitted["agent_version"]) == ("researcher", 1)
    assert submitted["graph"] == "outlast.agent"
    # Changed before any worker ran the task: the task keeps version 1.
    ok(api.patch("/v1/agents/researcher", json={"system_prompt": "You are verbose."}))

    tool_loop(fake)
    processes.worker(concurrency=1, **worker_env)
    task = finished(api, submitted["id"])

    assert task["result"]["output"] == "42" and task["result"]["stop_reason"] == "done"
    bodies = [r.body for r in fake.requests(OPENAI)]
    assert len(bodies) == 3
    first = bodies[0]
    assert first["messages"][0] == {"role": "system", "content": "You are terse."}
    assert first["model"] == "gpt-test" and first["temperature"] == 0.5
    offered = {t["function"]["name"] for t in first["tools"]}
    assert offered == {"request_human_input", "calculator"}
    refused = bodies[1]["messages"][-1]
    assert refused["role"] == "tool" and "not allowed" in refused["content"]
    computed = bodies[2]["messages"][-1]
    assert computed["role"] == "tool" and "42" in computed["content"], computed

    usage = ok(api.get(f"/v1/tasks/{submitted['id']}/usage"))
    assert usage["calls"] == 3 and usage["input_tokens"] == 600
    assert len(usage["steps"]) == 3 and [s["calls"] for s in usage["steps"]] == [1, 1, 1]
    assert sum(s["cost_micro_usd"] for s in usage["steps"]) == usage["cost_micro_usd"] > 0

    agent_usage = ok(api.get("/v1/agents/researcher/usage"))
    assert agent_usage["calls"] == 3 and agent_usage["cost_micro_usd"] == usage["cost_micro_usd"]
    assert [(r["agent_version"], r["model"], r["tasks"]) for r in agent_usage["by_model"]] == [
        (1, "gpt-test", 1)
    ]
    metrics = api.get("/metrics").text
    assert 'outlast_model_calls_total{agent="researcher",model="gpt-test"' in metrics


def test_replay_from_call_n_calls_the_provider_only_from_n(
    api: TestClient,
    fake: FakeLLM,
    processes: Processes,
    worker_env: dict[str, str],
    db_url: str,
) -> None:
    ok(api.post("/v1/agents", json=AGENT), 201)
    original = ok(api.post("/v1/tasks", json={"agent": "researcher", "input": ASK}), 201)
    tool_loop(fake)
    processes.worker(concurrency=1, **worker_env)
    finished(api, original["id"])
    assert len(fake.requests(OPENAI)) == 3
    fake.reset()

    fake.script(OPENAI, Reply("forty-two", input_tokens=50, output_tokens=3))
    body = {"from_call": 3, "system_prompt": "Answer in words.", "temperature": 0.0}
    made = ok(api.post(f"/v1/tasks/{original['id']}/replay", json=body), 201)
    replay = made["task"]
    assert made["replay_of"] == original["id"] and made["from_call"] == 3
    assert (replay["replay_of"], replay["replay_from_call"]) == (original["id"], 3)
    assert (replay["agent"], replay["agent_version"]) == ("researcher", 1)
    done = finished(api, replay["id"])

    assert done["result"]["output"] == "forty-two"
    sent = fake.requests(OPENAI)
    assert len(sent) == 1  # calls 1 and 2 came from the original's journal
    assert sent[0].body["messages"][0] == {"role": "system", "content": "Answer in words."}
    assert sent[0].body["temperature"] == 0.0
    # The replayed conversation holds the original's first two answers and tool results.
    tool_results = [m for m in sent[0].body["messages"] if m["role"] == "tool"]
    assert len(tool_results) == 2
    # The calculator call before call 3 was the original's outcome, not a second run.
    with psycopg.connect(db_url) as conn:
        ran = conn.execute(
            "SELECT count(*), count(replay_of_call) FROM tool_calls WHERE task_id = %s",
            (replay["id"],),
        ).fetchone()
    assert ran == (1, 1)

    compared = ok(api.get(f"/v1/tasks/{original['id']}/replays"))
    assert compared["task"]["id"] == original["id"] and compared["task"]["calls"] == 3
    (side,) = compared["replays"]
    assert (side["id"], side["state"], side["calls"], side["reused"]) == (
        replay["id"],
        "completed",
        3,
        2,
    )
    assert side["result"]["output"] == "forty-two"
    assert side["cost_micro_usd"] == 50 * 2 + 3 * 10 < compared["task"]["cost_micro_usd"]
    calls = ok(api.get(f"/v1/tasks/{replay['id']}/model-calls"))["items"]
    assert [c["price_source"] for c in calls][:2] == ["replay", "replay"]
    assert json.dumps(done["metadata"]["replay_of"]) == json.dumps(
        {"task_id": original["id"], "from_call": 3}
    )


def test_offline_agent_asks_a_person_with_no_key(api: TestClient, processes: Processes) -> None:
    """The README's example: the offline provider, a tool call that asks a person."""
    agent = {"name": "demo", "provider": "offline", "model": "offline"}
    ok(api.post("/v1/agents", json={**agent, "allowed_tools": ["request_human_input"]}), 201)
    text = '/tool request_human_input {"question": "Which city?"}'
    body = {"agent": "demo", "input": {"messages": [{"role": "user", "content": text}]}}
    task = ok(api.post("/v1/tasks", json=body), 201)
    processes.worker(concurrency=1)

    def waiting() -> bool:
        return bool(ok(api.get(f"/v1/tasks/{task['id']}"))["state"] == "waiting_for_input")

    wait_until(waiting, 60, message="the agent asks a person")
    ok(api.post(f"/v1/tasks/{task['id']}/input", json={"value": "Oslo"}))
    done = finished(api, task["id"])
    assert done["result"]["output"] == "offline: tool returned: Oslo"
    usage = ok(api.get(f"/v1/tasks/{task['id']}/usage"))
    assert usage["calls"] == 2 and usage["output_tokens"] > 0
