"""Token deltas of running model calls, for the task stream's live tokens (ADR 0022).

- llm_deltas: UNLOGGED. The worker's model seam appends a call's streamed text here in small
  batches as it arrives (one multi-row insert every ~100 ms or 1 KB); the task stream
  (GET /v1/tasks/{id}/stream) sends each row as an `event: token`. Not the record of the call:
  the journal (llm_calls) is, so the table is unlogged (no WAL, no replica; emptied by a crash
  of Postgres, which loses only a live view) and pruned by the reaper after
  OUTLAST_TOKEN_RETENTION_S.
- tasks_agent_created: a tenant's tasks of one agent, newest first (GET /v1/tasks?agent=), so the
  console's agent filter walks the agent's tasks in page order instead of the whole tenant's.
- llm_calls_finished: a tenant's calls by when they finished (GET /v1/usage/hourly, the
  console's cost chart over the last 24 hours).

Revision ID: 0029
Revises: 0030
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0029"
down_revision = "0030"
branch_labels = None
depends_on = None

NOW = sa.text("clock_timestamp()")


def upgrade() -> None:
    op.create_table(
        "llm_deltas",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("tenant", sa.Text, nullable=False),
        sa.Column("task_id", UUID(as_uuid=True), nullable=False),
        sa.Column("call_id", sa.BigInteger, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        prefixes=["UNLOGGED"],
    )
    op.create_index("llm_deltas_task", "llm_deltas", ["task_id", "id"])
    op.create_index("llm_deltas_at", "llm_deltas", ["at"])
    op.create_index(
        "tasks_agent_created",
        "tasks",
        ["tenant", "agent", "created_at", "id"],
        postgresql_where=sa.text("agent IS NOT NULL"),
    )
    op.create_index("llm_calls_finished", "llm_calls", ["tenant", "finished_at"])


def downgrade() -> None:
    op.drop_index("llm_calls_finished", table_name="llm_calls")
    op.drop_index("tasks_agent_created", table_name="tasks")
    op.drop_table("llm_deltas")
