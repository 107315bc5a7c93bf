"""`outlast tasks logs [--follow]`, `outlast tasks submit-batch` and the chunked
`outlast dead-letters redrive-many` against a live API on real Postgres. Under CliRunner stderr
is not a terminal, so no progress bar is drawn and stdout is the result alone."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

import outlast.cli.batch_commands
import outlast.cli.task_logs
from db.connect import Pool
from outlast.cli.client_commands import dead_letters_app, tasks_app
from outlast.client import Client
from tests.integration.test_client_streams import fail_for_good, finish
from tests.support.wait import await_until

pytestmark = pytest.mark.timeout(120)
runner = CliRunner()


def run(base_url: str, *args: str) -> Result:
    return runner.invoke(tasks_app, [*args, "--url", base_url])


def kinds(output: str) -> list[str]:
    return [line.split()[2] for line in output.splitlines()]


def test_logs_print_one_readable_line_per_event(base_url: str) -> None:
    with Client(base_url) as api:
        task = api.submit("pipeline")
        api.cancel(task["id"], "not needed")
    result = run(base_url, "logs", task["id"])
    assert result.exit_code == 0, result.output
    assert kinds(result.stdout) == ["submitted", "cancelled"]
    last = result.stdout.splitlines()[-1]
    assert "queued→cancelled" in last and "reason=not needed" in last


async def _follow(base_url: str, pool: Pool, task_id: str, finisher: Any) -> Result:
    """`logs --follow` in a thread while `finisher(pool)` moves the task on."""
    following = asyncio.create_task(asyncio.to_thread(run, base_url, "logs", task_id, "-f"))

    async def streaming() -> bool:  # the history is printed: the stream is next
        return following.done() or await asyncio.sleep(0.3, True)

    await await_until(streaming, 10)
    await finisher(pool)
    return await asyncio.wait_for(following, 60)


async def test_follow_exits_0_when_the_task_completes(base_url: str, pool: Pool) -> None:
    with Client(base_url) as api:
        task = api.submit("pipeline")

    async def complete(pool: Pool) -> None:
        await finish(pool, task["id"])

    result = await _follow(base_url, pool, task["id"], complete)
    assert result.exit_code == 0, result.output
    assert kinds(result.stdout) == ["submitted", "claimed", "completed"]


async def test_follow_exits_1_when_the_task_is_dead_lettered(base_url: str, pool: Pool) -> None:
    with Client(base_url) as api:
        task = api.submit("flaky")
    result = await _follow(base_url, pool, task["id"], fail_for_good)
    assert result.exit_code == 1, result.output
    assert kinds(result.stdout)[-1] == "failed"


def test_follow_of_an_ended_task_exits_at_once(base_url: str) -> None:
    with Client(base_url) as api:
        task = api.submit("pipeline")
        api.cancel(task["id"])
    result = run(base_url, "logs", task["id"], "--follow")
    assert result.exit_code == 1 and kinds(result.stdout) == ["submitted", "cancelled"]


def test_follow_stops_cleanly_on_ctrl_c(base_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*_: Any, **__: Any) -> Iterator[dict[str, Any]]:
        raise KeyboardInterrupt
        yield {}

    monkeypatch.setattr(Client, "stream", interrupted)
    with Client(base_url) as api:
        task = api.submit("pipeline")
    result = run(base_url, "logs", task["id"], "--follow")
    assert result.exit_code == 130 and "Traceback" not in result.output
    assert kinds(result.stdout) == ["submitted"]


def _jsonl(tmp_path: Path, *lines: str) -> str:
    path = tmp_path / "tasks.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_submit_batch_posts_every_line_in_chunks(base_url: str, tmp_path: Path) -> None:
    lines = [json.dumps({"graph": "pipeline", "input": {"i": i}}) for i in range(5)]
    lines.insert(2, "")  # blank lines are skipped
    result = run(base_url, "submit-batch", _jsonl(tmp_path, *lines), "--chunk", "2")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # not a terminal: no bar
    created = json.loads(result.stdout)["tasks"]
    assert [t["input"] for t in created] == [{"i": i} for i in range(5)]
    with Client(base_url) as api:
        assert len(list(api.iter_tasks())) == 5


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        ("{not json", "line 4 is not valid JSON"),
        ("[1, 2]", "line 4 must be a JSON object, not list"),
        ('{"input": {}}', "line 4: a task names a graph or an agent"),
        ('{"graph": "nope"}', "line 4: graph: no graph named 'nope'"),
        ('{"graph": "pipeline", "priority": 500}', "line 4: priority"),
    ],
)
def test_a_bad_line_is_named_and_nothing_is_submitted(
    base_url: str, tmp_path: Path, bad: str, needle: str
) -> None:
    good = json.dumps({"graph": "pipeline"})
    path = _jsonl(tmp_path, good, good, good, bad, good)
    result = run(base_url, "submit-batch", path, "--chunk", "2")
    assert result.exit_code == 2, result.output
    assert result.stdout == "" and needle in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    with Client(base_url) as api:
        assert api.list()["items"] == []


def test_submit_batch_of_a_missing_file(base_url: str, tmp_path: Path) -> None:
    result = run(base_url, "submit-batch", str(tmp_path / "none.jsonl"))
    assert result.exit_code == 2 and "cannot read" in result.stderr


async def test_redrive_many_goes_in_chunks(
    base_url: str, pool: Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outlast.cli.client_commands, "REDRIVE_CHUNK", 2)
    with Client(base_url) as api:
        for _ in range(5):
            api.submit("flaky")
    for _ in range(5):
        await fail_for_good(pool)
    args = ["redrive-many", "--limit", "4", "--url", base_url]
    result = await asyncio.to_thread(runner.invoke, dead_letters_app, args)
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["count"] == 4 and {t["state"] for t in body["tasks"]} == {"queued"}
    with Client(base_url) as api:
        assert len(list(api.iter_dead_letters())) == 1
