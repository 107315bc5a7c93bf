"""The leases a worker holds right now, what the heartbeat learned about each, and the slots they
occupy.

Times here are the worker's monotonic clock. A lease's expiry in the database is set by the
statement that last renewed it (its claim, or a heartbeat that answered for it), at some moment
between sending that statement and reading its answer. So the worker fences a lease from the
*send* time (`fence_at`: never later than the database would), and counts it as possibly live
until the *answer* time plus the TTL (`expires_by`: never earlier than the database would).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from db.lease import Claim
from outlast.settings import FENCE_FRACTION


@dataclass
class Lease:
    """One claimed task. `cancel_requested` is set when an operator cancelled it (stop at the next
    node boundary); `lost` when the lease is gone (stop now, write nothing); `fenced` when the
    worker stopped it by its own clock, not knowing whether the database still counts it as
    held; `settled` once the runner ended with the database knowing (outcome written, or the
    lease refused as not ours). `recording` is set once the graph has stopped and the runner
    writes how the attempt ended. `cancel_at_once` while a function task's call runs: it has no
    node boundary, so a cancel interrupts it."""

    claim: Claim
    fence_at: float = 0.0
    expires_by: float = 0.0
    cancel_requested: asyncio.Event = field(default_factory=asyncio.Event)
    lost: asyncio.Event = field(default_factory=asyncio.Event)
    runner: asyncio.Task[None] | None = None
    recording: bool = False
    cancel_at_once: bool = False
    fenced: bool = False
    settled: bool = False  # the database has the outcome, or refused the lease as not ours
    # When the claim was sent and answered (wall clock, ns): the attempt's span starts there.
    claimed_ns: tuple[int, int] = (0, 0)

    def renewed(self, ttl_s: float, sent: float, seen: float) -> None:
        self.fence_at = sent + ttl_s * FENCE_FRACTION
        self.expires_by = seen + ttl_s

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

    def fence(self) -> None:
        """Stop the task because its lease may have lapsed unseen (no heartbeat got through)."""
        self.fenced = True
        self.lose()

    def _interrupt(self) -> None:
        if self.runner is not None and not self.runner.done() and not self.recording:
            self.runner.cancel()


@dataclass
class Leases:
    """The held leases, and the orphans: leases whose runner ended without the database
    settling them (a self-fence, a crash while recording the outcome). An orphan may still be
    live in the database, so it keeps its slot until it is released or has surely expired:
    the worker never holds more live leases than its concurrency."""

    ttl_s: float = 30.0
    held: dict[uuid.UUID, Lease] = field(default_factory=dict)
    orphans: dict[uuid.UUID, Lease] = field(default_factory=dict)

    def add(self, claim: Claim, *, sent: float | None = None, seen: float | None = None) -> Lease:
        """A new lease, renewed by the claim sent at `sent` and answered at `seen` (default now)."""
        now = time.monotonic()
        lease = Lease(claim)
        lease.renewed(self.ttl_s, now if sent is None else sent, now if seen is None else seen)
        self.held[claim.task_id] = lease
        return lease

    def renew(self, task_ids: Iterable[uuid.UUID], *, sent: float, seen: float) -> None:
        """A heartbeat sent at `sent` and answered at `seen` extended these leases."""
        for task_id in task_ids:
            lease = self.held.get(task_id)
            if lease is not None and not lease.lost.is_set():
                lease.renewed(self.ttl_s, sent, seen)

    def finish(self, lease: Lease, *, settled: bool) -> None:
        """The runner ended. Unless the database settled the lease (outcome written, or the
        lease refused as not ours), it becomes an orphan holding its slot."""
        self.held.pop(lease.claim.task_id, None)
        if not settled and time.monotonic() < lease.expires_by:
            self.orphans[lease.claim.task_id] = lease

    def remove(self, task_id: uuid.UUID) -> None:
        self.held.pop(task_id, None)
        self.orphans.pop(task_id, None)

    def occupied(self) -> int:
        """Slots in use: running tasks and orphans that may still be live."""
        now = time.monotonic()
        for task_id in [t for t, o in self.orphans.items() if o.expires_by <= now]:
            del self.orphans[task_id]
        return len(self.held) + len(self.orphans)

    def next_orphan_expiry(self) -> float | None:
        return min((o.expires_by for o in self.orphans.values()), default=None)

    def epochs(self) -> dict[uuid.UUID, int]:
        """What the heartbeat renews: leases not already given up."""
        return {t: lease.claim.epoch for t, lease in self.held.items() if not lease.lost.is_set()}

    def next_fence_at(self) -> float | None:
        """When the first lease still running must be fenced, unless a heartbeat renews it."""
        live = [lease.fence_at for lease in self.held.values() if not lease.lost.is_set()]
        return min(live, default=None)

    def fence_overdue(self) -> int:
        """Fence every lease past its own fence time; how many."""
        now = time.monotonic()
        overdue = [x for x in self.held.values() if not x.lost.is_set() and x.fence_at <= now]
        for lease in overdue:
            lease.fence()
        return len(overdue)

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
