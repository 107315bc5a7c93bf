"""What a run's nodes write to LangGraph's stream writer (`get_stream_writer()`), for the LangGraph
API's `custom` stream mode (ADR 0027).

- stream_chunks: one row per chunk a node wrote, in the order the worker received them, fenced by
  the lease like every worker write and logged (durable: a crash of Postgres loses none).
  `after_seq` is the checkpoint_order seq of the last checkpoint the worker had seen written when
  the chunk came (0: none yet): the stream serves the chunk after that checkpoint's frames and
  before the next one's. Rows go with their task (ON DELETE CASCADE).
- llm_deltas.after_seq: the same placing for a model call's token deltas (the task's newest
  checkpoint when the delta was written), for the LangGraph API's token-by-token `messages`.

Revision ID: 0033
Revises: 0027
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0033"
down_revision = "0027"
branch_labels = None
depends_on = None

NOW = sa.text("clock_timestamp()")


def upgrade() -> None:
    op.create_table(
        "stream_chunks",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("tenant", sa.Text, nullable=False),
        sa.Column(
            "task_id",
            UUID(as_uuid=True),
            sa.ForeignKey("tasks.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("lease_epoch", sa.BigInteger, nullable=False),
        sa.Column("after_seq", sa.BigInteger, nullable=False),
        sa.Column("namespace", sa.Text, nullable=False),
        sa.Column("data", JSONB, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    )
    op.create_index("stream_chunks_task", "stream_chunks", ["task_id", "id"])
    op.add_column(
        "llm_deltas",
        sa.Column("after_seq", sa.BigInteger, nullable=False, server_default=sa.text("0")),
    )


def downgrade() -> None:
    op.drop_column("llm_deltas", "after_seq")
    op.drop_table("stream_chunks")
