"""Schedules: a tenant's cron schedules and the slots they fired (docs/howto/schedules.md).

- schedules: a cron expression in an IANA time zone, what each slot submits (a graph, or an
  agent at the version it had when the schedule was made, with its input), the catch-up policy
  for missed slots, `next_run_at` (the first slot not fired yet) and `paused_at`.
- schedule_slots: one row per fired slot, the key (schedule, slot time), inserted in the
  statement that submits the slot's task and moves `next_run_at` on (db/queries/schedule.sql):
  two reapers, or a reaper that restarts, can never fire one slot twice. The task is not a
  foreign key: retention prunes tasks, and a slot's row outlives its task.

Revision ID: 0026
Revises: 0022
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0026"
down_revision = "0022"
branch_labels = None
depends_on = None

NOW = sa.text("clock_timestamp()")
TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column(
            "id", UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()")
        ),
        sa.Column("tenant", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("cron", sa.Text, nullable=False),
        sa.Column("timezone", sa.Text, nullable=False),
        sa.Column("catch_up", sa.Text, nullable=False),
        sa.Column("graph", sa.Text, nullable=False),
        sa.Column("agent", sa.Text),
        sa.Column("agent_version", sa.Integer),
        sa.Column("input", JSONB, nullable=False),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("next_run_at", TZ, nullable=False),
        sa.Column("paused_at", TZ),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.UniqueConstraint("tenant", "name", name="schedules_tenant_name"),
        sa.CheckConstraint("name ~ '^[a-z0-9][a-z0-9-]{0,62}$'", name="schedules_name_slug"),
        sa.CheckConstraint(
            "catch_up IN ('latest', 'all', 'none')", name="schedules_catch_up_valid"
        ),
    )
    # The reaper's schedule_due: active schedules by their next slot.
    op.create_index(
        "schedules_due", "schedules", ["next_run_at"], postgresql_where=sa.text("paused_at IS NULL")
    )
    op.create_table(
        "schedule_slots",
        sa.Column(
            "schedule_id",
            UUID(as_uuid=True),
            sa.ForeignKey("schedules.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("slot_at", TZ, primary_key=True),
        sa.Column("tenant", sa.Text, nullable=False),
        sa.Column("task_id", UUID(as_uuid=True), nullable=False),
        sa.Column("fired_at", TZ, nullable=False, server_default=NOW),
    )


def downgrade() -> None:
    op.drop_table("schedule_slots")
    op.drop_index("schedules_due", table_name="schedules")
    op.drop_table("schedules")
