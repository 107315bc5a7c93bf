"""Twenty tasks of one agent run at once in real worker processes against an hourly budget that
fits ten calls at their worst case: the reservations are atomic, so exactly ten calls are made,
the settled spend stays within the budget, and exactly the other ten tasks are paused (reason
`budget`) without a call."""

from __future__ import annotations

from pathlib import Path

from psycopg.types.json import Jsonb

from tests.support.budgeted import MAX_TOKENS, PRICES, prompt_tokens, worst_case
from tests.support.fake_llm import OPENAI, FakeLLM, Reply
from tests.support.observe import Observer
from tests.support.processes import TEST_ENV, Processes
from tests.support.wait import wait_until

GRAPHS = TEST_ENV["OUTLAST_GRAPHS"] + ",budgeted=tests.support.budgeted:budgeted"
QUESTION = "what does it cost?"
TASKS = 20
FITS = 10


def test_concurrent_tasks_of_an_agent_never_pass_its_budget(
    processes: Processes, observe: Observer, fake: FakeLLM, tmp_path: Path
) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text(PRICES)
    worst = worst_case(QUESTION, prices)
    limit = FITS * worst
    # Every answer costs its worst case, so an eleventh call can never fit after ten.
    fake.script(
        OPENAI,
        *[Reply("ok", input_tokens=prompt_tokens(QUESTION), output_tokens=MAX_TOKENS)] * TASKS,
    )
    spec = {"provider": "openai", "model": "gpt-test", "budgets": {"per_hour_micro_usd": limit}}
    observe.call(
        "agent_create", tenant="default", name="spender", spec=Jsonb(spec), created_by="test"
    )
    ids = [
        observe.submit("budgeted", {"question": QUESTION}, agent="spender", agent_version=1)
        for _ in range(TASKS)
    ]
    env = {
        "OUTLAST_GRAPHS": GRAPHS,
        "OPENAI_API_KEY": "sk-dummy",
        "OPENAI_BASE_URL": f"{fake.url}/v1",
        "OUTLAST_MODEL_PRICES_FILE": str(prices),
        # The first model call of a worker imports the vendor's SDK, which blocks its event
        # loop (heartbeat included) for a while on a busy machine: a lease longer than the
        # tests' usual 2 s keeps that from turning into lost leases and re-runs.
        "OUTLAST_LEASE_TTL_S": "15",
    }
    processes.worker(concurrency=TASKS // 2, **env)
    processes.worker(concurrency=TASKS // 2, **env)
    processes.reaper(**env)

    def settled() -> bool:
        states = [observe.state(task_id) for task_id in ids]
        return all(state in ("completed", "paused") for state in states)

    wait_until(settled, 120, message="every task completed or paused")
    states = {task_id: observe.state(task_id) for task_id in ids}
    completed = [t for t, s in states.items() if s == "completed"]
    paused = [t for t, s in states.items() if s == "paused"]
    assert (len(completed), len(paused)) == (FITS, TASKS - FITS)
    assert len(fake.requests(OPENAI)) == FITS
    window = observe.rows("SELECT spent_micro_usd, reserved_micro_usd FROM budget_windows")
    assert window == [{"spent_micro_usd": limit, "reserved_micro_usd": 0}]
    assert observe.value("SELECT sum(cost_micro_usd) FROM llm_calls") == limit
    called = {row["task_id"] for row in observe.rows("SELECT task_id FROM llm_calls")}
    assert called == set(completed)  # a paused task made no call
    for task_id in paused:
        pause = observe.task(task_id)["pause"]
        assert (pause["reason"], pause["scope"], pause["needed_micro_usd"]) == (
            "budget",
            "agent_hour",
            worst,
        )
        assert observe.events(task_id)[-1] == "paused"
