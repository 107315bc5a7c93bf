"""transcript_messages.owner: the task whose retention takes a transcript node with it.

A node is stored once per tenant (ADR 0012), so pruning a task could not tell its nodes from
those another task refers to, and kept them all. Now each node names the task that stored it
first; a node that another task stores too (the same text sent again), or that a fork or a replay
of its owner may read, is shared: its owner becomes NULL and no retention takes it. Nodes stored
before this migration have no owner, so they are kept, as before. ADR 0023.

tool_calls.replay_of_call: the original task's tool call whose outcome a replay reused instead of
running the tool again (as llm_calls.replay_of_call, migration 0020).

Revision ID: 0030
Revises: 0025
Create Date: 2026-11-29
"""

from alembic import op

revision = "0030"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE transcript_messages ADD COLUMN owner uuid")
    op.execute(
        "CREATE INDEX transcript_messages_owner ON transcript_messages (owner)"
        " WHERE owner IS NOT NULL"
    )

    op.execute("ALTER TABLE tool_calls ADD COLUMN replay_of_call bigint")


def downgrade() -> None:
    op.execute("ALTER TABLE tool_calls DROP COLUMN replay_of_call")
    op.execute("DROP INDEX transcript_messages_owner")
    op.execute("ALTER TABLE transcript_messages DROP COLUMN owner")
