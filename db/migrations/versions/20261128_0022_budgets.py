"""Budgets: money limits reserved before a model call and settled after it.

- tenant_budgets: a tenant's daily limit (set over PUT /v1/budgets).
- budget_windows: one counter row per (tenant, scope, subject, window): `task` (subject: the
  task id, one window for the task's life), `agent_hour` (the agent's name, a UTC clock hour),
  `tenant_day` (subject '', a UTC day). `spent` is settled cost, `reserved` the worst case of
  calls in flight; a reservation is a guarded update of every window that applies, so
  concurrent reservers can never together pass a limit.
- budget_reservations: a call's reservation, the windows it holds and the lease it was made
  under: settled in the transaction that journals the call's response, or, when the lease is
  lost first, charged at its worst case by the reaper.
- budget_applicable (a view): the windows that apply to each task now, with their limits: the
  agent's current spec (a raised budget applies to tasks already running) and the tenant's.
- tasks.pause: why a `paused` task is paused (reason `budget`, the window, its limit, spend so
  far and what the call needed).
- The fair claim (lease_claim_fair, ADR 0013): tasks_queued_group orders queued tasks by group
  (tenant, agent or '' for a task without one) and then as tasks_ready does; tasks_running_group
  counts a group's running tasks; outlast_cap_room(tenant, agent, cap) is a capped agent's room,
  under a transaction-scoped advisory lock taken without waiting (0 when another claimer holds
  it), counted in a fresh snapshot (a VOLATILE function's statements take their own), so a
  claim that committed after the claim statement began is counted.

Revision ID: 0022
Revises: 0023
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0022"
down_revision = "0023"
branch_labels = None
depends_on = None

NOW = sa.text("clock_timestamp()")
TZ = sa.DateTime(timezone=True)

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


CAP_ROOM = """
    CREATE FUNCTION outlast_cap_room(p_tenant text, p_agent text, p_cap integer)
    RETURNS integer
    LANGUAGE plpgsql VOLATILE AS $$
    DECLARE
        running integer;
    BEGIN
        -- One claimer at a time per capped agent, for the rest of its transaction (its claim
        -- statement); another claimer gets 0 now instead of waiting.
        IF NOT pg_try_advisory_xact_lock(hashtextextended(p_tenant || '/' || p_agent, 13)) THEN
            RETURN 0;
        END IF;
        -- A fresh snapshot (this is a VOLATILE function): claims committed since the calling
        -- statement began are counted.
        SELECT count(*) INTO running
        FROM tasks
        WHERE state = 'running' AND tenant = p_tenant AND coalesce(agent, '') = p_agent;
        RETURN greatest(p_cap - running, 0);
    END
    $$
"""


def upgrade() -> None:
    op.create_table(
        "tenant_budgets",
        sa.Column("tenant", sa.Text, primary_key=True),
        sa.Column("per_day_micro_usd", sa.BigInteger),
        sa.Column("updated_at", TZ, nullable=False, server_default=NOW),
        sa.Column("updated_by", sa.Text, nullable=False),
        sa.CheckConstraint("per_day_micro_usd >= 0", name="tenant_budgets_day_valid"),
    )
    op.create_table(
        "budget_windows",
        sa.Column("tenant", sa.Text, primary_key=True),
        sa.Column("scope", sa.Text, primary_key=True),
        sa.Column("subject", sa.Text, primary_key=True),
        sa.Column("window_start", TZ, primary_key=True),
        sa.Column("spent_micro_usd", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("reserved_micro_usd", sa.BigInteger, nullable=False, server_default="0"),
        sa.CheckConstraint(
            "scope IN ('task', 'agent_hour', 'tenant_day')", name="budget_windows_scope_valid"
        ),
        sa.CheckConstraint(
            "spent_micro_usd >= 0 AND reserved_micro_usd >= 0", name="budget_windows_nonnegative"
        ),
    )
    op.create_table(
        "budget_reservations",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("tenant", sa.Text, nullable=False),
        sa.Column("task_id", UUID(as_uuid=True), nullable=False),
        sa.Column("lease_epoch", sa.BigInteger, nullable=False),
        sa.Column("amount_micro_usd", sa.BigInteger, nullable=False),
        sa.Column("windows", JSONB, nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        sa.CheckConstraint("amount_micro_usd >= 0", name="budget_reservations_amount_valid"),
    )
    op.create_index("budget_reservations_task", "budget_reservations", ["task_id", "lease_epoch"])
    op.add_column("tasks", sa.Column("pause", JSONB))
    op.create_check_constraint(
        "tasks_paused_has_pause", "tasks", "state <> 'paused' OR pause IS NOT NULL"
    )
    # The reaper's budget_resume_due reads paused tasks only.
    op.create_index("tasks_paused", "tasks", ["id"], postgresql_where=sa.text("state = 'paused'"))
    op.execute(APPLICABLE)
    op.execute(CAP_ROOM)
    op.execute(
        "CREATE INDEX tasks_queued_group ON tasks "
        "(tenant, (coalesce(agent, '')), priority DESC, ready_at, id, run_at, graph) "
        "WHERE state = 'queued'"
    )
    op.execute(
        "CREATE INDEX tasks_running_group ON tasks (tenant, (coalesce(agent, ''))) "
        "WHERE state = 'running'"
    )


def downgrade() -> None:
    op.drop_index("tasks_running_group", "tasks")
    op.drop_index("tasks_queued_group", "tasks")
    op.execute("DROP FUNCTION outlast_cap_room(text, text, integer)")
    op.execute("DROP VIEW budget_applicable")
    op.drop_index("tasks_paused", "tasks")
    op.drop_constraint("tasks_paused_has_pause", "tasks")
    op.drop_column("tasks", "pause")
    op.drop_table("budget_reservations")
    op.drop_table("budget_windows")
    op.drop_table("tenant_budgets")
