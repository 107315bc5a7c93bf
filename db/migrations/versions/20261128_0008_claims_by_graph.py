"""Claims by graph, recovery order, dead-letter retention, a test clock only test databases honour.

- workers.graphs: the graphs a worker process can run, announced at registration; a worker claims
  only those (db/queries/lease.sql task_claim_many).
- tasks.ready_at: when a task became ready, the claim's order among runnable tasks. A retry or a
  reaped lease moves run_at (its backoff) but keeps ready_at, so once its backoff is over the task
  is not put behind tasks that became ready after it.
- tasks_ready is rebuilt on (priority DESC, ready_at, id, run_at, graph): the claim reads it in
  order, and tests run_at and graph on the index entry itself, so a task in backoff or of a graph
  this worker does not run is passed over without a visit to the table.
- dead_letters.resolved_at / resolution: an operator closes a dead letter without redriving it
  (POST /v1/dead-letters/{id}/resolve). Open (neither redriven nor resolved) dead letters, and
  their failed tasks, are kept until closed; closed ones have their own retention.
- dead_letters_task: pruning asks, per finished task, whether a dead letter of it is still kept,
  and the ON DELETE CASCADE from tasks looks dead letters up by task_id (the partial unique index
  covers only open ones).
- outlast_test_clock: outlast_now() honours the session setting outlast.now only in a database
  where this table has its row. Migrations create it empty; only the test template fills it.

Revision ID: 0008
Revises: 0006
Create Date: 2026-11-28
"""

from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None

CLOCK_HONOURS_SESSION = """
    CREATE OR REPLACE FUNCTION outlast_now() RETURNS timestamptz
    LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
        SELECT CASE
            WHEN nullif(current_setting('outlast.now', true), '') IS NULL THEN clock_timestamp()
            WHEN EXISTS (SELECT FROM outlast_test_clock)
                THEN current_setting('outlast.now')::timestamptz
            ELSE clock_timestamp()
        END
    $$
"""

CLOCK_BEFORE = """
    CREATE OR REPLACE FUNCTION outlast_now() RETURNS timestamptz
    LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
        SELECT coalesce(nullif(current_setting('outlast.now', true), '')::timestamptz,
                        clock_timestamp())
    $$
"""


def upgrade() -> None:
    op.execute("ALTER TABLE workers ADD COLUMN graphs text[] NOT NULL DEFAULT '{}'")

    op.execute("ALTER TABLE tasks ADD COLUMN ready_at timestamptz")
    op.execute("UPDATE tasks SET ready_at = run_at")
    op.execute("ALTER TABLE tasks ALTER COLUMN ready_at SET NOT NULL")
    op.execute("ALTER TABLE tasks ALTER COLUMN ready_at SET DEFAULT clock_timestamp()")
    op.execute("DROP INDEX tasks_ready")
    op.execute(
        "CREATE INDEX tasks_ready ON tasks (priority DESC, ready_at, id, run_at, graph) "
        "WHERE state = 'queued'"
    )

    op.execute("CREATE INDEX dead_letters_task ON dead_letters (task_id)")
    op.execute("ALTER TABLE dead_letters ADD COLUMN resolved_at timestamptz")
    op.execute("ALTER TABLE dead_letters ADD COLUMN resolution text")
    op.execute(
        "ALTER TABLE dead_letters ADD CONSTRAINT dead_letters_closed_once "
        "CHECK (redriven_at IS NULL OR resolved_at IS NULL)"
    )
    op.execute(
        "ALTER TABLE dead_letters ADD CONSTRAINT dead_letters_resolution_when_resolved "
        "CHECK (resolution IS NULL OR resolved_at IS NOT NULL)"
    )

    # At most one row (the key is the constant true); its presence marks a test database.
    op.execute(
        "CREATE TABLE outlast_test_clock ("
        "enabled boolean PRIMARY KEY DEFAULT true, "
        "CONSTRAINT outlast_test_clock_one_row CHECK (enabled))"
    )
    # The session setting is read first, so a production session (which never sets it) never
    # reads the table: the common path costs what it did.
    op.execute(CLOCK_HONOURS_SESSION)


def downgrade() -> None:
    op.execute(CLOCK_BEFORE)
    op.execute("DROP TABLE outlast_test_clock")
    op.execute("ALTER TABLE dead_letters DROP COLUMN resolution")
    op.execute("ALTER TABLE dead_letters DROP COLUMN resolved_at")
    op.execute("DROP INDEX dead_letters_task")
    op.execute("DROP INDEX tasks_ready")
    op.execute(
        "CREATE INDEX tasks_ready ON tasks (priority DESC, run_at, id) WHERE state = 'queued'"
    )
    op.execute("ALTER TABLE tasks DROP COLUMN ready_at")
    op.execute("ALTER TABLE workers DROP COLUMN graphs")
