"""outlast_raise(sqlstate, message): lets one SQL statement fail on purpose, so a lost lease can
abort the pipelined checkpoint write it fences (db/queries/lease.sql lease_fence_last, ADR 0005).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain SQL has no way to raise. Declared VOLATILE (the default) so the planner never folds a
    # call away or evaluates it early: it runs only where a CASE branch reaches it.
    op.execute(
        """
        CREATE FUNCTION outlast_raise(p_sqlstate text, p_message text) RETURNS boolean
        LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
            RAISE EXCEPTION USING ERRCODE = p_sqlstate, MESSAGE = p_message;
        END
        $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION outlast_raise(text, text)")
