"""checkpoint_order: the order of a thread's checkpoints, by the database, not by a clock.

LangGraph's checkpoint ids are uuid6 from the writing process's wall clock, and its saver takes
the highest id as a thread's newest checkpoint; a worker whose clock was behind wrote checkpoints
that sorted before older ones (docs/adr/0007-checkpoint-order.md). Every fenced checkpoint write
now records a row here in the same transaction, numbered by a sequence; a thread's head is its
highest `seq` (outlast_checkpoint_head). Existing checkpoints are numbered in id order, as they
were read until now.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE checkpoint_order (
            thread_id text NOT NULL,
            checkpoint_ns text NOT NULL,
            checkpoint_id text NOT NULL,
            seq bigint GENERATED ALWAYS AS IDENTITY,
            lease_epoch bigint NOT NULL,
            PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id)
        )
        """
    )
    op.execute(
        "CREATE INDEX checkpoint_order_head ON checkpoint_order (thread_id, checkpoint_ns, seq)"
    )
    # The checkpoint tables are LangGraph's, set up after Alembic runs: on a new database they do
    # not exist yet, so the function body is not checked now and the backfill is skipped.
    op.execute("SET LOCAL check_function_bodies = off")
    op.execute(
        """
        CREATE FUNCTION outlast_checkpoint_head(p_thread_id text, p_checkpoint_ns text)
        RETURNS text LANGUAGE sql STABLE AS $$
            SELECT coalesce(
                (SELECT checkpoint_id FROM checkpoint_order
                 WHERE thread_id = p_thread_id AND checkpoint_ns = p_checkpoint_ns
                 ORDER BY seq DESC LIMIT 1),
                -- a thread written by an unfenced saver has no order rows: LangGraph's own order
                (SELECT checkpoint_id FROM checkpoints
                 WHERE thread_id = p_thread_id AND checkpoint_ns = p_checkpoint_ns
                 ORDER BY checkpoint_id DESC LIMIT 1))
        $$
        """
    )
    op.execute(
        """
        DO $$
        BEGIN
            IF to_regclass('checkpoints') IS NOT NULL THEN
                INSERT INTO checkpoint_order (thread_id, checkpoint_ns, checkpoint_id, lease_epoch)
                SELECT thread_id, checkpoint_ns, checkpoint_id,
                       coalesce((metadata->>'outlast_epoch')::bigint, 0)
                FROM checkpoints
                ORDER BY thread_id, checkpoint_ns, checkpoint_id;
            END IF;
        END
        $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION outlast_checkpoint_head(text, text)")
    op.execute("DROP TABLE checkpoint_order")
