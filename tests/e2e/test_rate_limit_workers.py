"""The figure for provider rate limits (ADR 0016): three real worker processes run many tasks
at once, each making one model call to the fake provider, which answers 429 past 60 requests a
minute. With the tenant's limit set to the fake's, no request is refused: the calls past the
first 57 (the bucket keeps a 5% headroom) wait their turn in Postgres's shared bucket, sleeping
in their slot for a short wait, or given back (queued with run_at when the bucket allows) for a
longer one."""

from __future__ import annotations

from tests.support.fake_llm import OPENAI, FakeLLM
from tests.support.observe import Observer
from tests.support.processes import TEST_ENV, Processes
from tests.support.wait import wait_until

GRAPHS = TEST_ENV["OUTLAST_GRAPHS"] + ",budgeted=tests.support.rate_limited:budgeted"
RPM = 60
TASKS = 80  # 57 at once, then one a second: about 23 s of waiting in the bucket


def test_workers_make_no_call_the_provider_refuses(
    processes: Processes, observe: Observer, fake: FakeLLM
) -> None:
    fake.limit_rpm(OPENAI, RPM)
    observe.call(
        "rate_limit_set",
        provider="openai",
        model="gpt-test",
        tokens_per_minute=None,
        requests_per_minute=RPM,
        updated_by="test",
    )
    ids = [observe.submit("budgeted", {"question": f"question {i}"}) for i in range(TASKS)]
    env = {
        "OUTLAST_GRAPHS": GRAPHS,
        "OPENAI_API_KEY": "sk-dummy",
        "OPENAI_BASE_URL": f"{fake.url}/v1",
        "OUTLAST_LEASE_TTL_S": "15",  # the SDK's first import blocks a busy worker's loop
        "OUTLAST_MODEL_RATE_WAIT_MAX_S": "0.5",  # longer waits give the task back
    }
    for _ in range(3):
        processes.worker(concurrency=10, **env)

    def done() -> bool:
        return observe.value("SELECT count(*) FROM tasks WHERE state = 'completed'") == TASKS

    wait_until(done, 240, message="every task completed")
    arrivals = sorted(r.at for r in fake.received)
    profile = [round(a - arrivals[0], 2) for a in arrivals]
    refused = [round(a - arrivals[0], 2) for a in fake.limited_at]
    assert fake.rate_limited == 0, (refused, profile)  # the figure: not one 429
    assert len(fake.requests(OPENAI)) == TASKS  # one request per task: none refused, none retried
    given_back = observe.value(
        "SELECT count(*) FROM task_events WHERE kind = 'released'"
        " AND detail ->> 'after' = 'rate_limit'"
    )
    assert given_back > 0  # some waits were too long to sleep through in a slot
    assert {observe.state(task_id) for task_id in ids} == {"completed"}
