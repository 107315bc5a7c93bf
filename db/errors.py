"""The errors the queue raises, one tree:

OutlastError
├── NotFound            no row with that id
├── Conflict            the row is not in a state that allows the change (API: 409)
│   └── IdempotencyMismatch   same Idempotency-Key, different request body (API: 422)
└── LeaseLost           a fenced write found the lease gone: another worker holds the task,
                        or it expired, or it left `running`. The writer must stop, write
                        nothing more, and never retry the write.
"""

from __future__ import annotations


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
