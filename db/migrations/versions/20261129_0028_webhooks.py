"""Webhooks: a tenant's completion webhooks and the deliveries made for them (ADR 0020).

- webhooks: where to POST (url), which event types, the signing secret (returned once, at
  create; only the worker's delivery reads it back), whether private addresses may be reached
  (set by an operator only), `event_cursor` (the last task_events id the dispatcher has looked
  at for this webhook) and `paused_at`.
- webhook_deliveries: one row per (webhook, event), the key, inserted by the reaper's
  dispatcher in the statement that submits the delivery task (db/queries/webhook.sql): two
  reapers, or a reaper that restarts, never make two deliveries of one event. The task is not a
  foreign key: retention prunes tasks, and the key outlives the task by up to a retention
  period (the reaper forgets keys whose task is gone and that are older than the retention).

Revision ID: 0028
Revises: 0025
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

revision = "0028"
down_revision = "0025"
branch_labels = None
depends_on = None

NOW = sa.text("clock_timestamp()")
TZ = sa.DateTime(timezone=True)
EVENT_TYPES = "ARRAY['task.completed', 'task.failed', 'task.waiting', 'task.budget_paused']"


def upgrade() -> None:
    op.create_table(
        "webhooks",
        sa.Column(
            "id", UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()")
        ),
        sa.Column("tenant", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("events", ARRAY(sa.Text), nullable=False),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("allow_private", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("event_cursor", sa.BigInteger, nullable=False),
        sa.Column("paused_at", TZ),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.UniqueConstraint("tenant", "name", name="webhooks_tenant_name"),
        sa.CheckConstraint("name ~ '^[a-z0-9][a-z0-9-]{0,62}$'", name="webhooks_name_slug"),
        sa.CheckConstraint(
            f"cardinality(events) > 0 AND events <@ {EVENT_TYPES}::text[]",
            name="webhooks_events_valid",
        ),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column(
            "webhook_id",
            UUID(as_uuid=True),
            sa.ForeignKey("webhooks.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("event_id", sa.BigInteger, primary_key=True),
        sa.Column("tenant", sa.Text, nullable=False),
        sa.Column("task_id", UUID(as_uuid=True), nullable=False),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        sa.UniqueConstraint("task_id", name="webhook_deliveries_task"),
    )
    # The reaper's webhook_prune: the oldest keys first.
    op.create_index("webhook_deliveries_created", "webhook_deliveries", ["created_at"])


def downgrade() -> None:
    op.drop_index("webhook_deliveries_created", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhooks")
