"""The worker's webhook sender: runs each `outlast.webhook` delivery task in place of the
registry's stub (outlast/webhooks.py), because it needs the database to read the webhook's URL
and secret, which never travel in the task (ADR 0020).

One attempt reads the webhook by the delivery's task id, signs the task's payload with a fresh
timestamp and POSTs it through the SSRF guard (outlast.netguard; private addresses only when an
operator allowed them on the webhook, or OUTLAST_NET_ALLOW does). A 2xx answer completes the
task; anything else raises, so the attempt is retried with the queue's backoff and, once its
attempts are spent, dead-lettered (redrivable like any dead letter). A delivery whose webhook
was deleted completes without sending. The secret is in no error, result or log line.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from db import webhook
from db.connect import Pool
from db.errors import NonRetryable, WebhookRefused
from outlast import netguard, webhooks
from outlast.context import TaskContext
from outlast.functions import TaskFunction
from outlast.netguard import GuardConfig

ANSWER_BYTES = 512  # the start of a refusal's body, kept in the attempt's error


class WebhookSender:
    def __init__(self, pool: Pool, guard: GuardConfig) -> None:
        self.pool = pool
        self.guard = dataclasses.replace(guard, max_bytes=ANSWER_BYTES, max_redirects=0)

    def function(self) -> TaskFunction:
        return TaskFunction.wrap(self.deliver)

    async def deliver(self, task_input: dict[str, Any], task: TaskContext) -> dict[str, Any]:
        """Send one attempt; the result records the receiver's status."""
        target = await webhook.target(self.pool, task.task_id)
        if target is None:
            return {"delivered": False, "reason": "the webhook was deleted"}
        payload = task_input.get("payload")
        if not isinstance(payload, dict) or "id" not in payload:
            raise NonRetryable("the delivery task has no payload to send")
        body = json.dumps(payload, separators=(",", ":")).encode()
        signed = webhooks.headers(target["secret"], str(payload["id"]), body)
        guard = dataclasses.replace(self.guard, private=bool(target["allow_private"]))
        # UrlRefused (a private address; a name that does not resolve) is retried as any failed
        # attempt: DNS or the webhook's URL may change before the attempts are spent.
        answer = await netguard.post(target["url"], guard, body, signed)
        if not 200 <= answer.status < 300:
            text = answer.body.decode("utf-8", "replace")
            raise WebhookRefused(f"webhook {target['name']} answered {answer.status}: {text}")
        return {"delivered": True, "status": answer.status, "attempt": task.attempt}
