"""Webhooks through real processes: a reaper process makes the delivery, a worker process signs
and sends it to a loopback receiver that refuses the first attempts; the receiver accepts it
once, with one id on every attempt, and no process logs the secret."""

from __future__ import annotations

from tests.support.api import api_client
from tests.support.observe import Observer
from tests.support.processes import Processes
from tests.support.wait import wait_until
from tests.support.webhook_receiver import receiver

TEXT = "Webhooks are tasks too."


def test_a_completed_task_is_delivered_once_after_refusals(
    processes: Processes, observe: Observer, db_url: str
) -> None:
    with receiver(fail_first=2) as hook:
        with api_client(db_url) as api:
            made = api.post(
                "/v1/webhooks",
                json={
                    "name": "ops",
                    "url": hook.url,
                    "events": ["task.completed"],
                    "allow_private": True,
                },
            )
            assert made.status_code == 201, made.text
        hook.secret = made.json()["secret"]
        worker = processes.worker(concurrency=2)
        reaper = processes.reaper(OUTLAST_WEBHOOK_SETTLE_S="0.2")
        task_id = observe.submit("pipeline", {"text": TEXT})
        wait_until(lambda: hook.accepted, 60, message="the delivery accepted")

        [(delivery_id, payload)] = hook.accepted.items()
        assert payload["type"] == "task.completed" and payload["data"]["task_id"] == str(task_id)
        assert [s.delivery_id for s in hook.seen] == [delivery_id] * 3
        assert [s.status for s in hook.seen] == [503, 503, 200] and all(
            s.verified for s in hook.seen
        )
        # The receiver's 200 comes before the worker records the delivery task's completion.
        wait_until(
            lambda: observe.state(delivery_id) == "completed", 30, message="the delivery recorded"
        )
        delivery = observe.task(delivery_id)
        assert (delivery["graph"], delivery["state"], delivery["attempts"]) == (
            "outlast.webhook",
            "completed",
            3,
        )
        for proc in (worker, reaper):
            assert hook.secret not in proc.output()
