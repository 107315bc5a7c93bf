"""The console in a real browser: sign in, watch tasks live, decide from the inbox, redrive
dead letters after a dry run, and never see another tenant's task."""

from __future__ import annotations

import json
import re
import signal

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import shot, sign_in, state_of, submit
from tests.support import keys
from tests.support.processes import Processes
from tests.support.wait import wait_until

EXPENSE = {"amount": 250, "payee": "Fjord Hotel", "description": "hotel in Bergen"}


def test_sign_in_and_watch_a_task_go_from_queued_to_completed(
    page: Page, api: httpx.Client, processes: Processes
) -> None:
    page.goto("/console/tasks")
    expect(page).to_have_url(re.compile(r"/console/sign-in"))
    shot(page, "sign-in")
    sign_in(page)
    expect(page.get_by_role("status").filter(has_text="Live updates")).to_have_text(
        "Live updates: on"
    )
    task_id = submit(api, "echo", {"hello": "console"})
    row = page.locator(f'tr[data-task="{task_id}"]')
    expect(row.locator("[data-state]")).to_have_text("queued")  # arrived by the stream
    processes.worker(concurrency=2)
    expect(row.locator("[data-state]")).to_have_text("completed", timeout=60_000)
    shot(page, "tasks")

    page.get_by_role("link", name=task_id).click()
    expect(page.get_by_role("heading", name=f"Task {task_id}")).to_be_visible()
    expect(page.locator("#timeline li")).to_have_count(3)  # submitted, claimed, completed
    expect(page.locator("#attempts tr")).to_have_count(1)
    shot(page, "task")


def test_approve_with_edited_arguments_from_the_inbox(
    page: Page, api: httpx.Client, processes: Processes
) -> None:
    processes.worker(concurrency=2)
    task_id = submit(api, "expense", EXPENSE)
    wait_until(lambda: state_of(api, task_id) == "waiting_for_approval", 60, message="the wait")
    sign_in(page, then="/console/inbox")
    card = page.locator("article", has=page.locator(f'a[href="/console/tasks/{task_id}"]'))
    args = card.get_by_label("Arguments (JSON; edit to act with other ones)")
    assert json.loads(args.input_value()) == {"amount": 250, "payee": "Fjord Hotel"}
    shot(page, "inbox")
    args.fill(json.dumps({"amount": 200, "payee": "Fjord Hotel AS"}))
    card.get_by_label("Comment").fill("capped at 200")
    card.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status").first).to_contain_text("approve sent")
    wait_until(lambda: state_of(api, task_id) == "completed", 60, message="the task completed")
    payment = api.get(f"/v1/tasks/{task_id}").json()["result"]["payment"]
    assert (payment["amount"], payment["payee"]) == (200, "Fjord Hotel AS")


def test_redrive_a_filtered_group_after_a_dry_run(
    page: Page, api: httpx.Client, processes: Processes
) -> None:
    processes.worker(concurrency=4)
    fatal = [submit(api, "explode", {"fatal": True}) for _ in range(3)]
    # Another error type, so another group, which the group's redrive must leave alone.
    other = api.post(
        "/v1/tasks", json={"graph": "explode", "input": {"fail_times": 5}, "max_attempts": 1}
    ).json()["id"]

    def open_letters() -> dict[str, str]:
        items = api.get("/v1/dead-letters", params={"graph": "explode"}).json()["items"]
        return {d["id"]: d["error_type"] for d in items}

    wait_until(lambda: len(open_letters()) == 4, 60, message="four dead letters")
    before = open_letters()
    group = {i for i, error in before.items() if error == "NonRetryable"}
    assert len(group) == 3
    sign_in(page, then="/console/dead-letters")
    row = page.get_by_role("row").filter(has_text="NonRetryable")
    row.get_by_role("button", name="Dry run: redrive group").click()
    expect(page.locator("#dry-count")).to_have_text("3")
    assert open_letters() == before  # a dry run changes nothing
    shot(page, "dead-letters")
    page.get_by_role("button", name="Redrive 3").click()
    expect(page.get_by_role("status").first).to_contain_text("Redriven 3 dead letters")
    after = open_letters()
    assert not group & set(after), "the group's dead letters are closed"
    assert {i: e for i, e in after.items() if e != "NonRetryable"} == {
        i: e for i, e in before.items() if e != "NonRetryable"
    }, "the other group is untouched"
    for task_id in fatal:
        kinds = [e["kind"] for e in api.get(f"/v1/tasks/{task_id}/events").json()["items"]]
        assert "redriven" in kinds, kinds
    assert state_of(api, other) == "failed"


def test_a_tenants_key_never_sees_another_tenants_task(
    page: Page, browser: Browser, api_url: str, api: httpx.Client
) -> None:
    theirs = submit(api, "echo", {"secret": "tenant default's"})
    acme = api.post(
        "/v1/keys", json={"scopes": ["tasks:read"], "tenant": "acme", "name": "acme ops"}
    ).json()
    sign_in(page, acme["key"])
    live = page.get_by_role("status").filter(has_text="Live updates")
    expect(live).to_have_text("Live updates: on")
    # The operator's page, open at the same time, shows the next task arrive by its stream...
    operator = browser.new_context(base_url=api_url).new_page()
    sign_in(operator)
    expect(operator.get_by_role("status").filter(has_text="Live updates")).to_have_text(
        "Live updates: on"
    )
    later = submit(api, "echo", {"n": 2})
    expect(operator.locator(f'tr[data-task="{later}"]')).to_have_count(1)
    # ... and acme's stream, reading the same table, never carries it.
    operator.context.close()
    page.wait_for_timeout(500)
    expect(page.locator(f'tr[data-task="{later}"]')).to_have_count(0)
    assert keys.SECRET not in page.content() and acme["key"] not in page.content()

    acme_api = {"Authorization": f"Bearer {acme['key']}"}
    assert api.get(f"/v1/tasks/{theirs}", headers=acme_api).status_code == 404
    page.goto("/console/tasks")
    expect(page.locator(f'tr[data-task="{theirs}"]')).to_have_count(0)
    page.goto(f"/console/tasks/{theirs}")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()


def test_overview_and_workers_pages(page: Page, api: httpx.Client, processes: Processes) -> None:
    processes.worker(concurrency=2)
    ids = [submit(api, "echo", {"n": i}) for i in range(8)]
    wait_until(lambda: all(state_of(api, t) == "completed" for t in ids), 60, message="done")
    sign_in(page, then="/console/")
    expect(page.get_by_role("img", name=re.compile("Tasks by state"))).to_be_visible()
    shot(page, "overview")
    page.get_by_role("link", name="Workers").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody")).to_contain_text("running")
    shot(page, "workers")


def test_a_killed_workers_handoff_appears_on_the_timeline(
    page: Page, api: httpx.Client, processes: Processes
) -> None:
    processes.reaper()
    first = processes.worker(concurrency=1)
    task_id = submit(api, "linger", {"sleep_s": 4})
    wait_until(lambda: state_of(api, task_id) == "running", 60, message="the first claim")
    sign_in(page, then=f"/console/tasks/{task_id}")
    expect(page.get_by_role("status").filter(has_text="Live updates")).to_have_text(
        "Live updates: on"
    )
    first.signal(signal.SIGKILL)
    processes.worker(concurrency=1)
    claims = page.locator("#timeline li").filter(has_text="claimed")
    expect(claims).to_have_count(2, timeout=60_000)  # arrived live: no reload
    expect(page.locator("#task [data-state]")).to_have_text("completed", timeout=60_000)
    workers = {
        e["worker_id"]
        for e in api.get(f"/v1/tasks/{task_id}/events").json()["items"]
        if e["kind"] == "claimed"
    }
    assert len(workers) == 2
    for worker in workers:
        expect(page.locator("#timeline")).to_contain_text(worker)
    page.reload()
    expect(page.locator("#attempts tr")).to_have_count(2)
    shot(page, "task-handoff")


def test_agent_versions_diff_and_revoking_a_key(page: Page, api: httpx.Client) -> None:
    spec = {"name": "support", "provider": "anthropic", "model": "claude-sonnet-4-5"}
    assert api.post("/v1/agents", json=spec).status_code == 201
    assert api.patch("/v1/agents/support", json={"model": "claude-opus-4-1"}).status_code == 200
    sign_in(page, then="/console/agents")
    page.get_by_role("link", name="support").click()
    changes = page.locator("#h-diff + form + table tbody tr").filter(has_text="model")
    expect(changes).to_contain_text("claude-sonnet-4-5")
    expect(changes).to_contain_text("claude-opus-4-1")
    shot(page, "agent")

    spare = keys.create(api, "tasks:read", name="spare")
    page.get_by_role("link", name="Keys").click()
    expect(page.locator("main")).not_to_contain_text(keys.SECRET)
    row = page.get_by_role("row").filter(has_text=spare["id"])
    row.get_by_role("button", name="Revoke").click()  # confirm() accepted by the fixture
    expect(page.get_by_role("status").first).to_contain_text("revoked")
    shot(page, "keys")
    assert httpx.get(f"{api.base_url}/v1/tasks", headers=spare["headers"]).status_code == 401


def test_the_state_at_a_checkpoint_and_a_fork_from_it(
    page: Page, api: httpx.Client, processes: Processes
) -> None:
    processes.worker(concurrency=1)
    task_id = submit(api, "pipeline", {"text": "Fork me. Twice.", "delay_s": 0})
    wait_until(lambda: state_of(api, task_id) == "completed", 60, message="the pipeline")
    checkpoints = api.get(f"/v1/tasks/{task_id}/checkpoints").json()["items"]
    oldest = checkpoints[-2]["checkpoint_id"]  # step 0: the input is in the state
    sign_in(page, then=f"/console/tasks/{task_id}")
    page.get_by_role("link", name=f"State at checkpoint {oldest}").click()
    expect(page.get_by_role("heading", name="State")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Fork me. Twice.")
    shot(page, "checkpoint")
    page.go_back()
    page.get_by_role("button", name=f"Fork from checkpoint {oldest}").click()
    expect(page.get_by_role("status").first).to_contain_text(f"Forked from task {task_id}")
    forked = page.locator("#task").get_attribute("data-task")
    assert forked and forked != task_id
    expect(page.locator("#task [data-state]")).to_have_text("completed", timeout=60_000)
