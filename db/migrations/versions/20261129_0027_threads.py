"""Threads (ADR 0018): a task belongs to a thread, and the claim never runs two of one at once.

- threads: a tenant's conversation, the LangGraph Platform API's thread (metadata is the caller's).
- tasks.thread_id: the thread a task was submitted on. NULL is the task's own thread, whose id is
  the task id (every task has a thread; one that names none pays for no row and no index entry).
- tasks_thread: a named thread's tasks in submit order, for the claim's "nothing before me"
  check and the thread's runs.
- tasks_thread_running: at most one running task per thread, as a unique index: the constraint
  behind the claim's check, not a convention.
- outlast_thread_next(thread, task, created_at): whether the task is its thread's next to run
  (the claims' check, db/queries/lease.sql).

Revision ID: 0027
Revises: 0029
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0027"
down_revision = "0029"
branch_labels = None
depends_on = None

NOW = sa.text("clock_timestamp()")
TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "threads",
        sa.Column("tenant", sa.Text, nullable=False),
        sa.Column(
            "id", UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()")
        ),
        sa.Column("metadata", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        sa.Column("updated_at", TZ, nullable=False, server_default=NOW),
    )
    op.create_index("threads_tenant_created", "threads", ["tenant", "created_at", "id"])
    op.add_column(
        "tasks",
        sa.Column("thread_id", UUID(as_uuid=True), sa.ForeignKey("threads.id"), nullable=True),
    )
    op.create_index(
        "tasks_thread",
        "tasks",
        ["thread_id", "created_at", "id"],
        postgresql_where=sa.text("thread_id IS NOT NULL"),
    )
    op.create_index(
        "tasks_thread_running",
        "tasks",
        ["thread_id"],
        unique=True,
        postgresql_where=sa.text("thread_id IS NOT NULL AND state = 'running'"),
    )

    op.execute(THREAD_NEXT)


# No other task of the thread is running or waiting (or paused), and none submitted before this
# one is still queued. STABLE and plain SQL: it runs in the claim's snapshot, and the planner
# can inline it.
THREAD_NEXT = """
CREATE FUNCTION outlast_thread_next(p_thread uuid, p_task uuid, p_created timestamptz)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT NOT EXISTS (
        SELECT FROM tasks AS o
        WHERE o.thread_id = p_thread
          AND o.id <> p_task
          AND (o.state NOT IN ('queued', 'completed', 'failed', 'cancelled')
               OR (o.state = 'queued' AND (o.created_at, o.id) < (p_created, p_task))))
$$
"""


def downgrade() -> None:
    op.execute("DROP FUNCTION outlast_thread_next(uuid, uuid, timestamptz)")
    op.drop_index("tasks_thread_running", table_name="tasks")
    op.drop_index("tasks_thread", table_name="tasks")
    op.drop_column("tasks", "thread_id")
    op.drop_index("threads_tenant_created", table_name="threads")
    op.drop_table("threads")
