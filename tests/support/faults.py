"""Faults that land on work in flight, by conditions read from the database, never by timing.

A worker is killed only once it holds leases. To know exactly what the kill interrupted, it is
frozen first (SIGSTOP): once none of its sessions runs a statement, its running tasks can only
leave `running` through the reaper, so the attempts read then are the ones the kill interrupts.
"""

from __future__ import annotations

import signal
import uuid
from typing import Any

from tests.support.observe import Observer
from tests.support.processes import Proc
from tests.support.wait import wait_until

Attempt = tuple[uuid.UUID, int]  # (task id, lease epoch)


def held(observe: Observer, proc: Proc) -> list[Attempt]:
    """The running tasks whose lease the worker process `proc` holds."""
    rows = observe.rows(
        "SELECT t.id, t.lease_epoch FROM tasks t JOIN workers w ON w.id = t.worker_id"
        " WHERE w.pid = %s AND t.state = 'running'",
        proc.pid,
    )
    return [(r["id"], r["lease_epoch"]) for r in rows]


# The sessions of some processes: libpq names a process's own connections after it (PGAPPNAME),
# and a worker names its pools' sessions after its worker id (db.workers.application_name).
SESSIONS_OF = (
    "(application_name = ANY(%s) OR application_name IN"
    " (SELECT 'outlast-worker ' || id::text FROM workers WHERE pid = ANY(%s)))"
)


def sessions_of(*procs: Proc) -> tuple[list[str], list[int]]:
    """The parameters of SESSIONS_OF for `procs`."""
    return [p.app_name for p in procs], [p.pid for p in procs]


def statements_in_flight(observe: Observer, *procs: Proc) -> int:
    """Sessions of `procs` with a statement running (sent before a freeze, not yet done)."""
    return int(
        observe.value(
            f"SELECT count(*) FROM pg_stat_activity WHERE {SESSIONS_OF} AND state = 'active'",  # noqa: S608 (a constant)
            *sessions_of(*procs),
        )
    )


def freeze_holding(observe: Observer, proc: Proc, timeout: float = 60) -> list[Attempt]:
    """SIGSTOP `proc` while it holds leases; the attempts it holds, frozen."""
    while True:
        wait_until(lambda: held(observe, proc), timeout, message=f"{proc.app_name} holds leases")
        proc.signal(signal.SIGSTOP)
        # Only a statement already sent can still change its tasks; an open transaction commits
        # nothing more (the frozen client sends no COMMIT) and the server ends it.
        wait_until(
            lambda: statements_in_flight(observe, proc) == 0,
            timeout,
            message=f"{proc.app_name}'s last statements to finish",
        )
        if attempts := held(observe, proc):
            return attempts
        proc.signal(signal.SIGCONT)  # it finished all it held in the meantime: try again


def kill_holding(observe: Observer, proc: Proc, timeout: float = 60) -> list[Attempt]:
    """SIGKILL `proc` while it holds leases; the attempts the kill interrupted."""
    attempts = freeze_holding(observe, proc, timeout)
    proc.signal(signal.SIGKILL)
    proc.wait(10)
    return attempts


def attempt_endings(observe: Observer) -> dict[Attempt, list[str]]:
    """For every claimed attempt, the events that ended it (left `running` at its epoch)."""
    rows = observe.rows(
        "SELECT c.task_id, c.lease_epoch, array_remove(array_agg(e.kind ORDER BY e.id), NULL)"
        " AS endings FROM task_events c LEFT JOIN task_events e ON e.task_id = c.task_id"
        " AND e.lease_epoch = c.lease_epoch AND e.from_state = 'running'"
        " AND e.to_state <> 'running'"
        " WHERE c.kind = 'claimed' GROUP BY c.task_id, c.lease_epoch"
    )
    return {(r["task_id"], r["lease_epoch"]): list(r["endings"]) for r in rows}


def reaped_from(observe: Observer, proc: Proc) -> set[Attempt]:
    """The attempts of worker process `proc` that the reaper took back (lease expired)."""
    rows = observe.rows(
        "SELECT e.task_id, e.lease_epoch FROM task_events e JOIN workers w ON w.id = e.worker_id"
        " WHERE w.pid = %s AND e.kind = 'lease_expired'",
        proc.pid,
    )
    return {(r["task_id"], r["lease_epoch"]) for r in rows}


def forked_threads(observe: Observer) -> list[dict[str, Any]]:
    """Threads whose checkpoints are not one parent chain: a chain has one root, every other
    checkpoint's parent in the thread, and one head (a checkpoint nobody continues)."""
    return observe.rows(
        "WITH c AS (SELECT c.thread_id, c.parent_checkpoint_id IS NULL AS root,"
        " (c.parent_checkpoint_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM checkpoints p"
        "  WHERE p.thread_id = c.thread_id AND p.checkpoint_ns = ''"
        "  AND p.checkpoint_id = c.parent_checkpoint_id)) AS orphan,"
        " NOT EXISTS (SELECT 1 FROM checkpoints k WHERE k.thread_id = c.thread_id"
        "  AND k.checkpoint_ns = '' AND k.parent_checkpoint_id = c.checkpoint_id) AS head"
        " FROM checkpoints c WHERE c.checkpoint_ns = ''),"
        " t AS (SELECT thread_id, count(*) FILTER (WHERE root) AS roots,"
        " count(*) FILTER (WHERE orphan) AS orphans, count(*) FILTER (WHERE head) AS heads"
        " FROM c GROUP BY thread_id)"
        " SELECT * FROM t WHERE roots <> 1 OR orphans <> 0 OR heads <> 1"
    )
