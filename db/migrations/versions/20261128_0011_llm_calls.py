"""llm_calls: the journal of a task's model calls, written under the lease fence.

One row per call a graph node made through `outlast.models.call_model`, keyed by task, step key
(the LangGraph step and the node's task path, stable across re-runs of the node from the same
checkpoint) and sequence (the N-th call of that node run). A row starts `started` before the
request goes out and becomes `completed` (with the response, usage and cost) or `failed`; a
`started` row a later lease finds was in flight at a crash and is marked `interrupted` (it may
have been billed). Several rows can share a key: a call that failed, was interrupted, or whose
request no longer matches is made again as a new row; the newest completed row with the same
request digest is the one reused. docs/howto/agents-and-models.md, "Journal".

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE llm_calls (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            task_id uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
            step_key text NOT NULL,
            seq integer NOT NULL,
            lease_epoch bigint NOT NULL,
            request_digest text NOT NULL,
            status text NOT NULL DEFAULT 'started',
            request jsonb NOT NULL,
            response jsonb,
            error text,
            provider text,
            model text,
            input_tokens bigint,
            output_tokens bigint,
            cache_read_tokens bigint,
            cache_write_tokens bigint,
            cost_micro_usd bigint,
            price jsonb,
            price_source text,
            latency_ms bigint,
            started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            finished_at timestamptz,
            CONSTRAINT llm_calls_status_valid
                CHECK (status IN ('started', 'completed', 'failed', 'interrupted')),
            CONSTRAINT llm_calls_seq_valid CHECK (seq >= 0)
        )
        """
    )
    op.execute("CREATE INDEX llm_calls_key ON llm_calls (task_id, step_key, seq, id)")


def downgrade() -> None:
    op.execute("DROP TABLE llm_calls")
