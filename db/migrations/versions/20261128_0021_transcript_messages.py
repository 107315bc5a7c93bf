"""transcript_messages: message lists stored once, as chains of content-addressed nodes.

A chat agent's checkpoints and model calls each carry the whole conversation so far; stored as
is, a run's storage grows with the square of its length. Instead, each element of a message list
is a node keyed by (tenant, digest), where the digest is sha256 over the parent node's digest,
the encoding and the element's bytes: a list is the chain ending at its last element's node,
and a list that extends a stored one adds only its new elements. The checkpointer (db/saver.py)
stores a message list as its head digest, the LLM-call journal (worker/journal.py) stores a
request's messages the same way. ADR 0012.

The key leads with the tenant: a digest resolves only within the tenant that wrote it, so two
tenants that send the same message share nothing and learn nothing of each other.

Revision ID: 0021
Revises: 0024
Create Date: 2026-11-28
"""

from alembic import op

revision = "0021"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE transcript_messages (
            tenant text NOT NULL,
            digest bytea NOT NULL,
            parent bytea,
            position integer NOT NULL,
            encoding text NOT NULL,
            content bytea NOT NULL,
            PRIMARY KEY (tenant, digest),
            CONSTRAINT transcript_messages_digest_sha256 CHECK (octet_length(digest) = 32),
            CONSTRAINT transcript_messages_chained CHECK ((parent IS NULL) = (position = 0))
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE transcript_messages")
