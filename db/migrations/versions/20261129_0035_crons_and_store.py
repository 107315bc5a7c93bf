"""LangGraph API crons on schedules, and the store (ADR 0029).

- schedules.thread_id: the thread each fired task goes on (a cron made with
  `crons.create_for_thread`); NULL is a task on a thread of its own, as before. Deleting the
  thread deletes its schedules (as LangGraph deletes a thread's crons).
- schedules.metadata: the metadata each fired task carries (with the schedule and slot keys).
- schedules.payload: the LangGraph cron's body as it was given (echoed as the cron's `payload`);
  NULL for a schedule made on /v1.
- schedules.end_time: no slot after it fires.
- schedules.updated_at: when the schedule last changed (a cron's `updated_at`).
- store_items: a tenant's items of the LangGraph store (namespace path, key, JSON value), with
  an optional ttl (minutes) and the expiry it sets (moved on by a read that refreshes it).

Revision ID: 0035
Revises: 0033
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

revision = "0035"
down_revision = "0033"
branch_labels = None
depends_on = None

NOW = sa.text("clock_timestamp()")
TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column(
        "schedules",
        sa.Column(
            "thread_id",
            UUID(as_uuid=True),
            sa.ForeignKey("threads.id", ondelete="CASCADE"),
            nullable=True,
        ),
    )
    op.add_column(
        "schedules",
        sa.Column("metadata", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    )
    op.add_column("schedules", sa.Column("payload", JSONB, nullable=True))
    op.add_column("schedules", sa.Column("end_time", TZ, nullable=True))
    op.add_column("schedules", sa.Column("updated_at", TZ, nullable=False, server_default=NOW))
    op.create_table(
        "store_items",
        sa.Column("tenant", sa.Text, nullable=False),
        sa.Column("namespace", ARRAY(sa.Text), nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("value", JSONB, nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        sa.Column("updated_at", TZ, nullable=False, server_default=NOW),
        sa.Column("ttl_minutes", sa.Float, nullable=True),
        sa.Column("expires_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("tenant", "namespace", "key", name="store_items_pkey"),
        sa.CheckConstraint("cardinality(namespace) >= 1", name="store_items_namespace_nonempty"),
    )


def downgrade() -> None:
    op.drop_table("store_items")
    for column in ("updated_at", "end_time", "payload", "metadata", "thread_id"):
        op.drop_column("schedules", column)
