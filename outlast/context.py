"""The running task, as a graph node sees it.

A node that takes `config: RunnableConfig` can call `task_context(config)` to learn its task's
id, the attempt number (1 on the first run; restarts at 1 when a dead letter is redriven) and the
run number (how many times the task was ever claimed: its lease epoch, never reset).

A function task gets the context as its second argument. `stop_requested()` turns true when the
call should stop (the task was cancelled, timed out or lost its lease, or the worker is shutting
down): a plain `def` function, which cannot be interrupted, polls it to return early.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

__all__ = ["TaskContext", "task_context"]

CONFIG_KEY = "outlast"


@dataclass(frozen=True)
class TaskContext:
    task_id: uuid.UUID
    attempt: int
    run: int
    # Made on first use (`stop`): a threading.Event was 7 % of a worker's CPU draining no-op
    # tasks, and only a plain `def` function, run on its own thread, needs one (ADR 0019).
    _stop: list[threading.Event] = field(default_factory=list, compare=False, repr=False)

    @property
    def stop(self) -> threading.Event:
        """Set when the call should stop. The worker takes it before a plain `def` function's
        thread starts, so that thread and the worker see the same event."""
        if not self._stop:
            self._stop.append(threading.Event())
        return self._stop[0]

    def stop_requested(self) -> bool:
        """True once the call should stop: return (or raise) soon; the result is dropped."""
        return bool(self._stop) and self._stop[0].is_set()

    def as_configurable(self) -> dict[str, Any]:
        return {
            CONFIG_KEY: {"task_id": str(self.task_id), "attempt": self.attempt, "run": self.run}
        }


def task_context(config: Any) -> TaskContext:
    """The task context the worker put in `config`; raises LookupError outside a worker."""
    try:
        raw = config["configurable"][CONFIG_KEY]
    except (KeyError, TypeError) as exc:
        raise LookupError("not running inside an Outlast worker") from exc
    return TaskContext(
        task_id=uuid.UUID(raw["task_id"]), attempt=int(raw["attempt"]), run=int(raw["run"])
    )
