"""Agents as versioned records, owned by a tenant.

- agents: one row per (tenant, name). `version` is the current version; `disabled_at` is set
  while the agent is disabled (state, not spec: disabling makes no version).
- agent_versions: one immutable row per version of an agent's spec (JSONB: provider, model,
  fallbacks, prompt, limits, tools, budgets...; api/schemas.py AgentSpec says which), with the
  key that wrote it. An update inserts the next version and moves `agents.version` in one
  statement (db/queries/agent.sql); no statement updates or deletes a version.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

NOW = sa.text("clock_timestamp()")
TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("tenant", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("disabled_at", TZ),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        sa.CheckConstraint("name ~ '^[a-z0-9][a-z0-9-]{0,62}$'", name="agents_name_slug"),
        sa.CheckConstraint("version >= 1", name="agents_version_positive"),
    )
    op.create_table(
        "agent_versions",
        sa.Column("tenant", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("spec", JSONB, nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant", "name"], ["agents.tenant", "agents.name"], ondelete="CASCADE"
        ),
        sa.CheckConstraint("jsonb_typeof(spec) = 'object'", name="agent_versions_spec_object"),
    )


def downgrade() -> None:
    op.drop_table("agent_versions")
    op.drop_table("agents")
