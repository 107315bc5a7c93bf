"""The leases a worker holds right now, and what the heartbeat learned about each."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

from db.lease import Claim


@dataclass
class Lease:
    """One claimed task. `cancel_requested` is set when an operator cancelled it (stop at the next
    node boundary); `lost` when the lease is gone (stop now, write nothing). `recording` is set
    once the graph has stopped and the runner writes how the attempt ended. `cancel_at_once`
    while a function task's call runs: it has no node boundary, so a cancel interrupts it."""

    claim: Claim
    cancel_requested: asyncio.Event = field(default_factory=asyncio.Event)
    lost: asyncio.Event = field(default_factory=asyncio.Event)
    runner: asyncio.Task[None] | None = None
    recording: bool = False
    cancel_at_once: bool = False

    def request_cancel(self) -> None:
        """An operator cancelled the task: stop at the next node boundary, or at once."""
        self.cancel_requested.set()
        if self.cancel_at_once:
            self._interrupt()

    def lose(self) -> None:
        """Stop the runner at once, unless it is recording the outcome: that write is fenced (it
        lands only under a live lease), and the heartbeat also misses a task whose outcome
        committed a moment ago, so cancelling there would only cut a database call short."""
        self.lost.set()
        self._interrupt()

    def _interrupt(self) -> None:
        if self.runner is not None and not self.runner.done() and not self.recording:
            self.runner.cancel()


@dataclass
class Leases:
    held: dict[uuid.UUID, Lease] = field(default_factory=dict)

    def add(self, claim: Claim) -> Lease:
        lease = Lease(claim)
        self.held[claim.task_id] = lease
        return lease

    def remove(self, task_id: uuid.UUID) -> None:
        self.held.pop(task_id, None)

    def epochs(self) -> dict[uuid.UUID, int]:
        return {task_id: lease.claim.epoch for task_id, lease in self.held.items()}

    def __len__(self) -> int:
        return len(self.held)

    def request_cancel(self, task_id: str) -> None:
        """A cancel notification: stop that task at its next node boundary, if we hold it."""
        try:
            held = self.held.get(uuid.UUID(task_id))
        except ValueError:
            return
        if held is not None and not held.cancel_requested.is_set():
            held.request_cancel()

    def lose_all(self) -> None:
        for lease in list(self.held.values()):
            lease.lose()
