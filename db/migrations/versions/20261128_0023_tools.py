"""Tools: the two-phase tool ledger, text artifacts, and registered tool servers.

`tool_calls` is the ledger (docs/adr/0014-tool-ledger.md): before a tool runs, an intent row
(`started`: task, step key, call index, tool, arguments and their digest, idempotency key)
commits under the lease fence; after, the row gets its outcome (`completed` with the result,
`failed` with the error, or `skipped`). A `started` row a later lease finds was in flight at a
crash and becomes `interrupted`: the outcome is unknown. `decision` records what a person
decided about such a call (`retry`, `skip`, `done`).

`artifacts` holds the text artifacts a task's tools created, one per (task, name).

`tool_servers` holds a tenant's MCP servers: URL, bearer token (here, apart from any task
state; the API never returns it), the tools last discovered and the server's health.

Every table has `tenant` (NOT NULL, no default).

Revision ID: 0023
Revises: 0021
Create Date: 2026-11-28
"""

from alembic import op

revision = "0023"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE tool_calls (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            tenant text NOT NULL,
            task_id uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
            step_key text NOT NULL,
            seq integer NOT NULL,
            lease_epoch bigint NOT NULL,
            tool text NOT NULL,
            idempotent boolean NOT NULL,
            idempotency_key text NOT NULL,
            arguments_digest text NOT NULL,
            arguments jsonb NOT NULL,
            status text NOT NULL DEFAULT 'started',
            decision text,
            result jsonb,
            error text,
            started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            finished_at timestamptz,
            CONSTRAINT tool_calls_status_valid
                CHECK (status IN ('started', 'completed', 'failed', 'skipped', 'interrupted')),
            CONSTRAINT tool_calls_decision_valid
                CHECK (decision IS NULL OR decision IN ('retry', 'skip', 'done')),
            CONSTRAINT tool_calls_seq_valid CHECK (seq >= 0)
        )
        """
    )
    op.execute("CREATE INDEX tool_calls_key ON tool_calls (task_id, step_key, seq, id)")
    op.execute(
        """
        CREATE TABLE artifacts (
            task_id uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
            name text NOT NULL,
            tenant text NOT NULL,
            content_type text NOT NULL,
            content text NOT NULL,
            size_bytes integer NOT NULL,
            idempotency_key text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            PRIMARY KEY (task_id, name),
            CONSTRAINT artifacts_name_valid CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$')
        )
        """
    )
    op.execute(
        """
        CREATE TABLE tool_servers (
            tenant text NOT NULL,
            name text NOT NULL,
            url text NOT NULL,
            token text,
            tools jsonb NOT NULL DEFAULT '[]'::jsonb,
            health text NOT NULL DEFAULT 'unknown',
            health_error text,
            checked_at timestamptz,
            created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            created_by text NOT NULL,
            PRIMARY KEY (tenant, name),
            CONSTRAINT tool_servers_name_slug CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
            CONSTRAINT tool_servers_health_valid CHECK (health IN ('unknown', 'ok', 'error'))
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE tool_servers")
    op.execute("DROP TABLE artifacts")
    op.execute("DROP TABLE tool_calls")
