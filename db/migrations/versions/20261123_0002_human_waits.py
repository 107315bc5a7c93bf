"""Humans in the loop: task_waits (one row per interrupt, one decision each), follow-up input and
fork state patches as resume points, wait timeouts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Resume points a worker consumes with its first fenced write (see lease_fence_resume):
    # a follow-up's new input, and a fork's state patch.
    op.execute("ALTER TABLE tasks ADD COLUMN resume_input jsonb")
    op.execute("ALTER TABLE tasks ADD COLUMN resume_patch jsonb")
    # How long a human wait may last, and what happens then, for every interrupt of this task
    # that does not say otherwise. NULL: the server default (OUTLAST_WAIT_TIMEOUT_S, fail).
    op.execute("ALTER TABLE tasks ADD COLUMN wait_timeout_s integer")
    op.execute("ALTER TABLE tasks ADD COLUMN on_wait_timeout text")
    op.execute(
        "ALTER TABLE tasks ADD CONSTRAINT tasks_wait_timeout_positive "
        "CHECK (wait_timeout_s IS NULL OR wait_timeout_s > 0)"
    )
    op.execute(
        "ALTER TABLE tasks ADD CONSTRAINT tasks_on_wait_timeout_valid "
        "CHECK (on_wait_timeout IS NULL OR on_wait_timeout IN ('fail', 'reject', 'default'))"
    )
    # A waiting task holds no lease (so no worker slot).
    op.execute(
        "ALTER TABLE tasks ADD CONSTRAINT tasks_waiting_holds_no_lease CHECK ("
        "state NOT IN ('waiting_for_approval', 'waiting_for_input', 'paused') OR worker_id IS NULL)"
    )
    op.execute(
        """
        CREATE TABLE task_waits (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            task_id uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
            interrupt_id text NOT NULL,
            kind text NOT NULL,
            payload jsonb NOT NULL,
            created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            expires_at timestamptz NOT NULL,
            on_timeout text NOT NULL,
            decision text,
            value jsonb,
            decided_by text,
            comment text,
            decided_at timestamptz,
            CONSTRAINT task_waits_kind_valid CHECK (kind IN ('approval', 'input')),
            CONSTRAINT task_waits_on_timeout_valid CHECK (on_timeout IN ('fail', 'reject', 'default')),
            CONSTRAINT task_waits_decision_valid
                CHECK (decision IS NULL OR decision IN ('approved', 'rejected', 'answered', 'timed_out')),
            CONSTRAINT task_waits_decided_complete CHECK ((decision IS NULL) = (decided_at IS NULL)),
            CONSTRAINT task_waits_one_per_interrupt UNIQUE (task_id, interrupt_id)
        )
        """
    )
    # The approvals inbox: open waits, oldest first.
    op.execute(
        "CREATE INDEX task_waits_open ON task_waits (created_at, id) WHERE decided_at IS NULL"
    )
    op.execute(
        "CREATE INDEX task_waits_open_expiry ON task_waits (expires_at) WHERE decided_at IS NULL"
    )


def downgrade() -> None:
    op.execute("DROP TABLE task_waits")
    op.execute("ALTER TABLE tasks DROP CONSTRAINT tasks_waiting_holds_no_lease")
    op.execute("ALTER TABLE tasks DROP CONSTRAINT tasks_on_wait_timeout_valid")
    op.execute("ALTER TABLE tasks DROP CONSTRAINT tasks_wait_timeout_positive")
    for column in ("on_wait_timeout", "wait_timeout_s", "resume_patch", "resume_input"):
        op.execute(f"ALTER TABLE tasks DROP COLUMN {column}")
