"""Every statement names the tenant now: the 'default' defaults of revision 0013 go, so a
statement that forgets the tenant fails instead of filing a row under `default`.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-28
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TABLES = ("tasks", "task_events", "task_waits", "dead_letters", "checkpoint_order", "llm_calls")


def upgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN tenant DROP DEFAULT")


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN tenant SET DEFAULT 'default'")
