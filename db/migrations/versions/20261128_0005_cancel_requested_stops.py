"""A task whose cancel was requested is running (stopping at its next node boundary) or
cancelled; nothing else (SPEC guarantee 8). Every transition out of `running` now honours the
flag, and every path back to `queued` (redrive, follow-up) clears it, so the CHECK holds.

Rows left by the old statements are settled first: a queued or waiting task that kept its flag
is cancelled now (with its event row), and a completed or failed one, whose cancel lost a race
under the old rules, has the flag cleared (its events keep the history).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        WITH cur AS (
            SELECT id, state FROM tasks
            WHERE cancel_requested
              AND state IN ('queued', 'waiting_for_approval', 'waiting_for_input', 'paused')
            FOR UPDATE
        ), moved AS (
            UPDATE tasks AS t
            SET state = 'cancelled', finished_at = clock_timestamp(),
                updated_at = clock_timestamp()
            FROM cur
            WHERE t.id = cur.id
            RETURNING t.id, t.lease_epoch, t.attempts, cur.state AS previous
        )
        INSERT INTO task_events (task_id, kind, from_state, to_state, lease_epoch, attempt, detail)
        SELECT id, 'cancelled', previous, 'cancelled', lease_epoch, attempts,
               jsonb_build_object('reason', 'cancel requested earlier (migration 0005)')
        FROM moved
        """
    )
    op.execute(
        "UPDATE tasks SET cancel_requested = false"
        " WHERE cancel_requested AND state IN ('completed', 'failed')"
    )
    op.execute(
        "ALTER TABLE tasks ADD CONSTRAINT tasks_cancel_requested_stops"
        " CHECK (NOT cancel_requested OR state IN ('running', 'cancelled'))"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE tasks DROP CONSTRAINT tasks_cancel_requested_stops")
