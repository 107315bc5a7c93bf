"""The task state machine, in Python. The same machine is a CHECK constraint in the migration and
a diagram in docs/state-machine.md; tests/unit/test_state_machine.py keeps all three equal.
"""

from __future__ import annotations

from enum import StrEnum


class TaskState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    WAITING_FOR_APPROVAL = "waiting_for_approval"
    WAITING_FOR_INPUT = "waiting_for_input"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL: frozenset[TaskState] = frozenset(
    {TaskState.COMPLETED, TaskState.FAILED, TaskState.CANCELLED}
)
WAITING: frozenset[TaskState] = frozenset(
    {TaskState.WAITING_FOR_APPROVAL, TaskState.WAITING_FOR_INPUT, TaskState.PAUSED}
)

# Every allowed (from, to) pair, each named by the statement in db/queries/ that performs it.
# Terminal states move on only by operator action: redrive (failed) or a follow-up (completed).
# `paused` is a budget's: a model call that does not fit pauses the task before the call.
TRANSITIONS: frozenset[tuple[TaskState, TaskState, str]] = frozenset(
    {
        (TaskState.QUEUED, TaskState.RUNNING, "lease_claim_many"),
        (TaskState.QUEUED, TaskState.RUNNING, "lease_claim_fair"),
        (TaskState.QUEUED, TaskState.CANCELLED, "tasks_cancel"),
        (TaskState.RUNNING, TaskState.QUEUED, "outcome_fail"),
        (TaskState.RUNNING, TaskState.FAILED, "outcome_fail"),
        (TaskState.RUNNING, TaskState.QUEUED, "lease_release"),
        (TaskState.RUNNING, TaskState.CANCELLED, "outcome_cancel_ack"),
        # A requested cancel wins on every other way out of running (SPEC guarantee 8).
        (TaskState.RUNNING, TaskState.COMPLETED, "outcome_complete_many"),
        (TaskState.RUNNING, TaskState.CANCELLED, "outcome_complete_many"),
        (TaskState.RUNNING, TaskState.CANCELLED, "outcome_fail"),
        (TaskState.RUNNING, TaskState.CANCELLED, "lease_release"),
        (TaskState.RUNNING, TaskState.CANCELLED, "waits_park"),
        (TaskState.RUNNING, TaskState.QUEUED, "lease_reap_expired"),
        (TaskState.RUNNING, TaskState.FAILED, "lease_reap_expired"),
        (TaskState.RUNNING, TaskState.CANCELLED, "lease_reap_expired"),
        (TaskState.FAILED, TaskState.QUEUED, "dead_letters_redrive"),
        (TaskState.RUNNING, TaskState.WAITING_FOR_APPROVAL, "waits_park"),
        (TaskState.RUNNING, TaskState.WAITING_FOR_INPUT, "waits_park"),
        (TaskState.WAITING_FOR_APPROVAL, TaskState.QUEUED, "waits_decide"),
        (TaskState.WAITING_FOR_INPUT, TaskState.QUEUED, "waits_decide"),
        (TaskState.WAITING_FOR_APPROVAL, TaskState.WAITING_FOR_INPUT, "waits_decide"),
        (TaskState.WAITING_FOR_APPROVAL, TaskState.QUEUED, "waits_expire"),
        (TaskState.WAITING_FOR_INPUT, TaskState.QUEUED, "waits_expire"),
        (TaskState.WAITING_FOR_APPROVAL, TaskState.WAITING_FOR_INPUT, "waits_expire"),
        (TaskState.WAITING_FOR_APPROVAL, TaskState.FAILED, "waits_expire"),
        (TaskState.WAITING_FOR_INPUT, TaskState.FAILED, "waits_expire"),
        (TaskState.WAITING_FOR_APPROVAL, TaskState.CANCELLED, "tasks_cancel"),
        (TaskState.WAITING_FOR_INPUT, TaskState.CANCELLED, "tasks_cancel"),
        (TaskState.PAUSED, TaskState.CANCELLED, "tasks_cancel"),
        (TaskState.RUNNING, TaskState.PAUSED, "budget_reserve"),
        (TaskState.RUNNING, TaskState.CANCELLED, "budget_reserve"),
        (TaskState.PAUSED, TaskState.QUEUED, "budget_resume"),
        (TaskState.PAUSED, TaskState.QUEUED, "budget_resume_due"),
        (TaskState.COMPLETED, TaskState.QUEUED, "tasks_follow_up"),
    }
)


def allowed(source: TaskState, target: TaskState) -> bool:
    return any(s == source and t == target for s, t, _ in TRANSITIONS)
