"""task_events without a foreign key to tasks: every event row is written by the statement that
changes its task (so the task exists), and the foreign key's check cost each row a trigger call
and a row lock on a task the statement had just updated (docs/adr/0006). Retention pruning now
deletes a task's events itself (db/queries/reap.sql tasks_prune_finished).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE task_events DROP CONSTRAINT task_events_task_id_fkey")


def downgrade() -> None:
    op.execute(
        "DELETE FROM task_events AS e WHERE NOT EXISTS (SELECT FROM tasks WHERE id = e.task_id)"
    )
    op.execute(
        "ALTER TABLE task_events ADD CONSTRAINT task_events_task_id_fkey"
        " FOREIGN KEY (task_id) REFERENCES tasks (id) ON DELETE CASCADE"
    )
