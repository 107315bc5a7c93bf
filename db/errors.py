"""Every error Outlast raises on purpose, one tree (`except OutlastError` catches them all):

OutlastError
├── NotFound            no row with that id
├── Conflict            the row is not in a state that allows the change (API: 409)
│   └── IdempotencyMismatch   same Idempotency-Key, different request body (API: 422)
├── LeaseLost           a fenced write found the lease gone: another worker holds the task,
│   │                   or it expired, or it left `running`. The writer must stop, write
│   │                   nothing more, and never retry the write.
│   ├── BudgetPaused    a model call did not fit a budget: the reserve statement paused
│   │                   the task (state `paused`, reason `budget`) and released the lease,
│   │                   before the call; the run stops as on a lost lease
│   └── RateLimited     a model call would wait on a provider rate limit longer than the
│                       worker may sleep: the task was given back, queued to run when the
│                       bucket allows, before the call; the run stops as on a lost lease
├── NonRetryable        raised by a graph node or task function on purpose: the task fails
│   │                   now, without further attempts, and goes to the dead-letter table
│   ├── UnstorableValue a result (or an interrupt's payload) Postgres cannot store: NaN,
│   │                   Infinity, an int too long to write as text (also a ValueError)
│   └── UnpricedModel   a task under a budget would call a model with no known price (its
│                       cost cannot be reserved); the message names the model
├── TaskTimeout         the attempt ran past the task's `timeout_s` (retryable, like any
│                       other failure of an attempt); its name is the failure's `type`
├── UnfinishedRun       a graph run stopped with nodes left and nothing waiting on a person:
│                       never a completion; retryable (the next attempt resumes from the head)
├── RegistryError       a malformed OUTLAST_GRAPHS entry, or a graph that cannot be
│                       imported (also a ValueError)
├── ModelError          a model call failed (outlast.models); `.provider`, `.model`,
│   │                   `.status` (HTTP status, if any) and `.retryable`
│   ├── ModelUnavailable    retryable (429, 5xx, 529, a timeout, a dropped connection)
│   │                       and still failing after the retries and the failover chain
│   ├── ModelRejected       not retryable: the provider refused the request (400, 401,
│   │                       403, 404, 422); retrying or failing over would not help
│   └── ModelConfigError    a provider named without its key (the message names the
│                           setting), or an unknown provider (also a ValueError)
├── ToolError           a tool call failed (outlast.toolcall): the model gets it as the
│   │                   tool's error result, the task goes on; never raised by call_tool
│   └── UrlRefused      a URL the SSRF guard (outlast.netguard) will not fetch: not http(s),
│                       userinfo, or a host resolving to a private, loopback, link-local,
│                       CGNAT, multicast, reserved or metadata address (also a ValueError)
├── WebhookRefused      a webhook's receiver answered a delivery with something other than
│                       2xx (worker/webhooks.py): retried with backoff, then dead-lettered
├── WebhookSignatureInvalid  a webhook request outlast.webhooks.verify() refuses: a missing
│                       header, a timestamp outside the tolerance, or no signature that
│                       matches the body under the secret (also a ValueError)
└── ApiError            the REST API answered 4xx/5xx (outlast.client); `.status` and
                        `.problem` (its problem+json body)

Any other exception from a node is retryable (the task is queued again with backoff until its
`max_attempts` are spent, then dead-lettered), except the deterministic ones the worker
recognises (docs/architecture.md, "Which failures are retried").

The tree lives here, in the bottom layer, because db/ imports nothing of ours and must raise
it; every other package can import it. Users import these names from `outlast.errors`
(`outlast.client.ApiError` and `outlast.registry.RegistryError` still work too).
tests/unit/test_error_tree.py checks that this drawing matches the classes, and that every
exception class our packages define descends from OutlastError or is a listed exception.
"""

from __future__ import annotations

from typing import Any


class OutlastError(Exception):
    """Base of every error Outlast raises on purpose."""


class NotFound(OutlastError):
    def __init__(self, kind: str, ident: object) -> None:
        super().__init__(f"{kind} {ident} does not exist")
        self.kind = kind
        self.ident = ident


class Conflict(OutlastError):
    def __init__(self, message: str, *, state: str | None = None) -> None:
        super().__init__(message)
        self.state = state


class IdempotencyMismatch(Conflict):
    pass


class LeaseLost(OutlastError):
    def __init__(self, task_id: object, epoch: int) -> None:
        super().__init__(f"lease on task {task_id} at epoch {epoch} is lost")
        self.task_id = task_id
        self.epoch = epoch


class BudgetPaused(LeaseLost):
    """The call would pass a budget: the task is paused (or cancelled, if its cancel was
    requested) and no longer held, so the run stops and writes nothing more. `pause` says
    which window refused the call, its limit, the spend so far and what the call needed."""

    def __init__(self, task_id: object, epoch: int, pause: dict[str, Any] | None) -> None:
        super().__init__(task_id, epoch)
        self.args = (f"task {task_id} paused on its budget before a model call",)
        self.pause = pause


class RateLimited(LeaseLost):
    """The call would wait `wait_s` on a provider rate limit, longer than a worker sleeps in
    its slot: the task is queued again to run then (or cancelled, if its cancel was requested)
    and no longer held, so the run stops and writes nothing more."""

    def __init__(self, task_id: object, epoch: int, wait_s: float) -> None:
        super().__init__(task_id, epoch)
        self.args = (f"task {task_id} waits {wait_s:.1f}s on a provider rate limit",)
        self.wait_s = wait_s


class NonRetryable(OutlastError):
    """The task cannot succeed by trying again (bad input, a refused action)."""


class UnstorableValue(NonRetryable, ValueError):
    """A value the task produced cannot be stored (jsonb has no form for it)."""


class UnpricedModel(NonRetryable):
    """A task a budget applies to would call a model whose price is not known, so the call's
    worst case cannot be reserved: refused before the call (ADR 0023). `models` names them."""

    def __init__(self, task_id: object, models: list[str]) -> None:
        names = ", ".join(models)
        super().__init__(
            f"task {task_id} has a budget, and no price is known for {names}: its calls cannot"
            " be reserved against the budget. Add the model to the price override file"
            " (OUTLAST_MODEL_PRICES_FILE) or take the budget off the agent."
        )
        self.models = models


class TaskTimeout(OutlastError):
    """The attempt ran past the task's timeout_s (retryable, like any attempt failure)."""


class UnfinishedRun(OutlastError):
    """The graph stopped with nodes still to run and nothing waiting on a person: its thread's
    newest checkpoint is not where the run ended. Never a completion (retryable: the next attempt
    resumes from the thread's head)."""


class RegistryError(OutlastError, ValueError):
    """A malformed OUTLAST_GRAPHS entry, or a graph that cannot be imported."""


class ModelError(OutlastError):
    """A model call failed. Messages carry the provider, model and status, never a key."""

    retryable = False

    def __init__(
        self, message: str, *, provider: str = "", model: str = "", status: int | None = None
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.model = model
        self.status = status


class ModelUnavailable(ModelError):
    """Retryable: rate limited, overloaded, a 5xx, a timeout or a dropped connection.

    `retry_after` is the wait the provider asked for (seconds), if it said."""

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        model: str = "",
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, provider=provider, model=model, status=status)
        self.retry_after = retry_after


class ModelRejected(ModelError):
    """Not retryable: the provider refused this request (400, 401, 403, 404, 422)."""


class ModelConfigError(ModelError, ValueError):
    """A provider was named without its key, or no such provider exists."""


class ToolError(OutlastError):
    """A tool call failed; its message is what the model is shown (never a secret)."""


class WebhookRefused(OutlastError):
    """A webhook's receiver did not accept a delivery (a status other than 2xx)."""


class WebhookSignatureInvalid(OutlastError, ValueError):
    """A webhook request that does not verify (outlast.webhooks.verify): do not act on it."""


class UrlRefused(ToolError, ValueError):
    """The URL may not be fetched: the message says which rule refused it."""


class ApiError(OutlastError):
    """The API refused or failed a request; `problem` is its problem+json body."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        super().__init__(self.summary())

    def summary(self) -> str:
        """One line: status, title and detail (which names the field for a 422)."""
        title = self.problem.get("title") or "error"
        detail = self.problem.get("detail")
        line = f"{self.status} {title}" + (f": {detail}" if detail else "")
        return " ".join(line.split())  # a detail may carry newlines; this stays one line
