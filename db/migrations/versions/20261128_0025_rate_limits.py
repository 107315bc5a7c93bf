"""Provider rate limits: token buckets per provider key and model, in Postgres (ADR 0016).

- rate_limits: a tenant's limits per (provider, model): tokens and requests per minute (either
  may be null: no limit of that kind), set over PUT /v1/rate-limits.
- rate_buckets: the live bucket per (tenant, provider, model, key fingerprint): tokens and
  requests left (refilled continuously at the limit per minute, never above the limit less a 5%
  headroom, at each read and write), when they were last refilled, `blocked_until` (a provider's 429 Retry-After), and
  `in_flight`: when each request taken and not yet settled was taken (entries older than a
  minute are dropped); the requests refill only up to the limit less those, since the
  provider's own bucket counts them only when they arrive (ADR 0016).
  The key is named by `key_fingerprint`, a hash of the provider key; the key itself is never
  stored.

Revision ID: 0025
Revises: 0026
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0025"
down_revision = "0026"
branch_labels = None
depends_on = None

NOW = sa.text("clock_timestamp()")
TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "rate_limits",
        sa.Column("tenant", sa.Text, primary_key=True),
        sa.Column("provider", sa.Text, primary_key=True),
        sa.Column("model", sa.Text, primary_key=True),
        sa.Column("tokens_per_minute", sa.BigInteger),
        sa.Column("requests_per_minute", sa.BigInteger),
        sa.Column("updated_at", TZ, nullable=False, server_default=NOW),
        sa.Column("updated_by", sa.Text, nullable=False),
        sa.CheckConstraint(
            "tokens_per_minute > 0 AND requests_per_minute > 0", name="rate_limits_positive"
        ),
    )
    op.create_table(
        "rate_buckets",
        sa.Column("tenant", sa.Text, primary_key=True),
        sa.Column("provider", sa.Text, primary_key=True),
        sa.Column("model", sa.Text, primary_key=True),
        sa.Column("key_fingerprint", sa.Text, primary_key=True),
        sa.Column("tokens", sa.Float, nullable=False),
        sa.Column("requests", sa.Float, nullable=False),
        sa.Column("refilled_at", TZ, nullable=False),
        sa.Column("blocked_until", TZ),
        sa.Column("in_flight", ARRAY(TZ), nullable=False, server_default="{}"),
    )


def downgrade() -> None:
    op.drop_table("rate_buckets")
    op.drop_table("rate_limits")
