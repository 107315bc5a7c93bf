"""API keys: who may call the API, for which tenant, with which scopes.

- api_keys: one row per key. `id` is the key's public id (the `<id>` of `olk_<id>_<secret>`),
  safe to log; `secret_sha256` is the SHA-256 of the secret part, never the secret itself.
  Revoking sets `revoked_at`; the row is kept so logs and decisions that name the key still
  resolve. `last_used_at` is written at most once a minute per key per API replica.
- Every key belongs to one tenant (`tenant`, a text id; the key `make start` prints belongs to
  `default`). Tenant-owned rows (tasks, waits, dead letters, ...) get their `tenant` column in a
  later revision (docs/security.md).

Revision ID: 0010
Revises: 0008
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, BYTEA

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None

SCOPES = (
    "tasks:write",
    "tasks:read",
    "approvals:decide",
    "dead-letters:operate",
    "agents:admin",
    "metrics:read",
    "admin",
)
SCOPES_SQL = ", ".join(f"'{s}'" for s in SCOPES)
NOW = sa.text("clock_timestamp()")


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("tenant", sa.Text, nullable=False),
        sa.Column("name", sa.Text),
        sa.Column("scopes", ARRAY(sa.Text), nullable=False),
        sa.Column("secret_sha256", BYTEA, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("id ~ '^[0-9a-f]{12}$'", name="api_keys_id_format"),
        sa.CheckConstraint("tenant ~ '^[a-z0-9][a-z0-9_-]{0,62}$'", name="api_keys_tenant_format"),
        sa.CheckConstraint("octet_length(secret_sha256) = 32", name="api_keys_hash_length"),
        sa.CheckConstraint(
            f"cardinality(scopes) > 0 AND scopes <@ ARRAY[{SCOPES_SQL}]::text[]",
            name="api_keys_scopes_known",
        ),
    )
    op.create_index("api_keys_tenant_created", "api_keys", ["tenant", "created_at", "id"])


def downgrade() -> None:
    op.drop_table("api_keys")
