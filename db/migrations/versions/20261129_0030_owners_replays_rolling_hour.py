"""Transcript owners, tool-call replays, and the agent's budget per rolling hour.

transcript_messages.owner: the task whose retention takes a transcript node with it.

A node is stored once per tenant (ADR 0012), so pruning a task could not tell its nodes from
those another task refers to, and kept them all. Now each node names the task that stored it
first; a node that another task stores too (the same text sent again), or that a fork or a replay
of its owner may read, is shared: its owner becomes NULL and no retention takes it. Nodes stored
before this migration have no owner, so they are kept, as before. ADR 0023.

tool_calls.replay_of_call: the original task's tool call whose outcome a replay reused instead of
running the tool again (as llm_calls.replay_of_call, migration 0020).

budget_spend and outlast_budget_spent(): an agent's hourly budget is a sliding window, the spend
settled in the last 3600 s by outlast_now() plus what is reserved now, instead of the UTC clock
hour. Each settled or expired charge on an agent's hour is a budget_spend row stamped with when
it was charged; the agent's `agent_hour` window row (window_start -infinity, one per agent) keeps
its reservations and is the row reservers lock. The spend of the clock hour in progress carries
over as one charge at its start, so upgrading grants no extra hour. ADR 0023.

Revision ID: 0030
Revises: 0028
Create Date: 2026-11-29
"""

from alembic import op

APPLICABLE = """
    CREATE VIEW budget_applicable AS
    SELECT t.id AS task_id, t.tenant, w.scope, w.subject, w.window_start, w.window_end,
           w.limit_micro_usd
    FROM tasks AS t
    LEFT JOIN agents AS a ON a.tenant = t.tenant AND a.name = t.agent
    LEFT JOIN agent_versions AS v
           ON v.tenant = a.tenant AND v.name = a.name AND v.version = a.version
    LEFT JOIN tenant_budgets AS b ON b.tenant = t.tenant
    CROSS JOIN LATERAL (
        SELECT date_trunc('day', outlast_now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS day
    ) AS now
    CROSS JOIN LATERAL (VALUES
        ('task', t.id::text, '-infinity'::timestamptz, 'infinity'::timestamptz,
         (v.spec #>> '{budgets,per_task_micro_usd}')::bigint),
        ('agent_hour', t.agent, '-infinity'::timestamptz, 'infinity'::timestamptz,
         (v.spec #>> '{budgets,per_hour_micro_usd}')::bigint),
        ('tenant_day', '', now.day, now.day + interval '1 day', b.per_day_micro_usd)
    ) AS w (scope, subject, window_start, window_end, limit_micro_usd)
    WHERE w.limit_micro_usd IS NOT NULL
"""

CLOCK_HOUR = """
    CREATE VIEW budget_applicable AS
    SELECT t.id AS task_id, t.tenant, w.scope, w.subject, w.window_start, w.window_end,
           w.limit_micro_usd
    FROM tasks AS t
    LEFT JOIN agents AS a ON a.tenant = t.tenant AND a.name = t.agent
    LEFT JOIN agent_versions AS v
           ON v.tenant = a.tenant AND v.name = a.name AND v.version = a.version
    LEFT JOIN tenant_budgets AS b ON b.tenant = t.tenant
    CROSS JOIN LATERAL (
        SELECT date_trunc('hour', outlast_now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hour,
               date_trunc('day', outlast_now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS day
    ) AS now
    CROSS JOIN LATERAL (VALUES
        ('task', t.id::text, '-infinity'::timestamptz, 'infinity'::timestamptz,
         (v.spec #>> '{budgets,per_task_micro_usd}')::bigint),
        ('agent_hour', t.agent, now.hour, now.hour + interval '1 hour',
         (v.spec #>> '{budgets,per_hour_micro_usd}')::bigint),
        ('tenant_day', '', now.day, now.day + interval '1 day', b.per_day_micro_usd)
    ) AS w (scope, subject, window_start, window_end, limit_micro_usd)
    WHERE w.limit_micro_usd IS NOT NULL
"""

SPENT = """
    CREATE FUNCTION outlast_budget_spent(p_tenant text, p_scope text, p_subject text,
                                         p_row_spent bigint)
    RETURNS bigint
    LANGUAGE plpgsql VOLATILE AS $$
    DECLARE
        spent bigint;
    BEGIN
        -- A window row's own spend, except an agent's rolling hour: what was charged in the
        -- last 3600 s. VOLATILE, so its statement takes a fresh snapshot: called after the
        -- caller locked the window row, it sees the charges committed by whoever held the lock.
        IF p_scope <> 'agent_hour' THEN
            RETURN p_row_spent;
        END IF;
        SELECT coalesce(sum(amount_micro_usd), 0) INTO spent
        FROM budget_spend
        WHERE tenant = p_tenant AND scope = p_scope AND subject = p_subject
          AND charged_at > outlast_now() - interval '3600 seconds';
        RETURN spent;
    END;
    $$
"""

revision = "0030"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE transcript_messages ADD COLUMN owner uuid")
    op.execute(
        "CREATE INDEX transcript_messages_owner ON transcript_messages (owner)"
        " WHERE owner IS NOT NULL"
    )

    op.execute("ALTER TABLE tool_calls ADD COLUMN replay_of_call bigint")
    op.execute(
        """
        CREATE TABLE budget_spend (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            tenant text NOT NULL,
            scope text NOT NULL,
            subject text NOT NULL,
            charged_at timestamptz NOT NULL,
            amount_micro_usd bigint NOT NULL,
            CONSTRAINT budget_spend_amount_valid CHECK (amount_micro_usd > 0)
        )
        """
    )
    op.execute(
        "CREATE INDEX budget_spend_window ON budget_spend (tenant, scope, subject, charged_at)"
    )
    op.execute(SPENT)
    op.execute(
        """
        INSERT INTO budget_spend (tenant, scope, subject, charged_at, amount_micro_usd)
        SELECT tenant, scope, subject, window_start, spent_micro_usd
        FROM budget_windows
        WHERE scope = 'agent_hour' AND spent_micro_usd > 0
          AND window_start > outlast_now() - interval '3600 seconds'
        """
    )
    op.execute("DROP VIEW budget_applicable")
    op.execute(APPLICABLE)


def downgrade() -> None:
    op.execute("DROP VIEW budget_applicable")
    op.execute(CLOCK_HOUR)
    op.execute("DROP FUNCTION outlast_budget_spent(text, text, text, bigint)")
    op.execute("DROP TABLE budget_spend")
    op.execute("ALTER TABLE tool_calls DROP COLUMN replay_of_call")
    op.execute("DROP INDEX transcript_messages_owner")
    op.execute("ALTER TABLE transcript_messages DROP COLUMN owner")
