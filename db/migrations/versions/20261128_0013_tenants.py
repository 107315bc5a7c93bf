"""A tenant on every tenant-owned row.

`tenant` (text, NOT NULL) on tasks and on every table that hangs off a task: task_events,
task_waits, dead_letters, checkpoint_order, llm_calls. Rows from before are the `default`
tenant's. The column starts with DEFAULT 'default' so that statements written before it keep
working while they are moved over; revision 0014 drops the defaults, after which a statement
that forgets the tenant fails instead of filing a row under `default`.

Tasks also get the agent they were submitted to and the agent version they pin (`agent`,
`agent_version`, both NULL for a task submitted to a graph by name).

The indexes that API lists and lookups use lead with the tenant, so a tenant's page is read
from its own part of the index; the claim's index (tasks_ready) stays tenant-blind: a claim
serves every tenant.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-28
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TABLES = ("tasks", "task_events", "task_waits", "dead_letters", "checkpoint_order", "llm_calls")

# (name, old definition, new definition)
INDEXES = (
    (
        "tasks_idempotency_key",
        "CREATE UNIQUE INDEX tasks_idempotency_key ON tasks (idempotency_key) "
        "WHERE idempotency_key IS NOT NULL",
        "CREATE UNIQUE INDEX tasks_idempotency_key ON tasks (tenant, idempotency_key) "
        "WHERE idempotency_key IS NOT NULL",
    ),
    (
        "tasks_created",
        "CREATE INDEX tasks_created ON tasks (created_at, id)",
        "CREATE INDEX tasks_created ON tasks (tenant, created_at, id)",
    ),
    (
        "tasks_state_created",
        "CREATE INDEX tasks_state_created ON tasks (state, created_at, id)",
        "CREATE INDEX tasks_state_created ON tasks (tenant, state, created_at, id)",
    ),
    (
        "task_waits_open",
        "CREATE INDEX task_waits_open ON task_waits (created_at, id) WHERE decided_at IS NULL",
        "CREATE INDEX task_waits_open ON task_waits (tenant, created_at, id) "
        "WHERE decided_at IS NULL",
    ),
    (
        "dead_letters_created",
        "CREATE INDEX dead_letters_created ON dead_letters (created_at, id)",
        "CREATE INDEX dead_letters_created ON dead_letters (tenant, created_at, id)",
    ),
)


def upgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ADD COLUMN tenant text NOT NULL DEFAULT 'default'")
    for name, _, new in INDEXES:
        op.execute(f"DROP INDEX {name}")
        op.execute(new)
    op.execute("ALTER TABLE tasks ADD COLUMN agent text, ADD COLUMN agent_version integer")


def downgrade() -> None:
    op.execute("ALTER TABLE tasks DROP COLUMN agent, DROP COLUMN agent_version")
    for name, old, _ in INDEXES:
        op.execute(f"DROP INDEX {name}")
        op.execute(old)
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} DROP COLUMN tenant")
