"""The queue: tasks, task_events, dead_letters, workers, and the injectable clock.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

STATES = (
    "'queued', 'running', 'waiting_for_approval', 'waiting_for_input', 'paused', "
    "'completed', 'failed', 'cancelled'"
)


def upgrade() -> None:
    # The database clock every lease and backoff reads. A test may move it for its own session
    # with SET outlast.now = '...'; production never sets it, so it is clock_timestamp().
    op.execute(
        """
        CREATE FUNCTION outlast_now() RETURNS timestamptz
        LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
            SELECT coalesce(nullif(current_setting('outlast.now', true), '')::timestamptz,
                            clock_timestamp())
        $$
        """
    )
    op.execute(
        f"""
        CREATE TABLE tasks (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            graph text NOT NULL,
            state text NOT NULL DEFAULT 'queued',
            priority smallint NOT NULL DEFAULT 0,
            run_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            attempts integer NOT NULL DEFAULT 0,
            max_attempts integer NOT NULL,
            timeout_s integer,
            lease_epoch bigint NOT NULL DEFAULT 0,
            worker_id uuid,
            lease_expires_at timestamptz,
            attempt_started_at timestamptz,
            cancel_requested boolean NOT NULL DEFAULT false,
            resume_checkpoint_id text,
            idempotency_key text,
            request_hash text,
            input jsonb NOT NULL DEFAULT '{{}}'::jsonb,
            metadata jsonb NOT NULL DEFAULT '{{}}'::jsonb,
            result jsonb,
            error jsonb,
            created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            started_at timestamptz,
            finished_at timestamptz,
            updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            CONSTRAINT tasks_state_valid CHECK (state IN ({STATES})),
            CONSTRAINT tasks_lease_iff_running
                CHECK ((state = 'running') = (worker_id IS NOT NULL AND lease_expires_at IS NOT NULL)),
            CONSTRAINT tasks_finished_iff_terminal
                CHECK ((state IN ('completed', 'failed', 'cancelled')) = (finished_at IS NOT NULL)),
            CONSTRAINT tasks_failed_has_error CHECK (state <> 'failed' OR error IS NOT NULL),
            CONSTRAINT tasks_cancelled_was_requested CHECK (state <> 'cancelled' OR cancel_requested),
            CONSTRAINT tasks_attempts_range CHECK (attempts >= 0 AND max_attempts BETWEEN 1 AND 1000),
            CONSTRAINT tasks_priority_range CHECK (priority BETWEEN -100 AND 100),
            CONSTRAINT tasks_timeout_positive CHECK (timeout_s IS NULL OR timeout_s > 0)
        ) WITH (fillfactor = 80)
        """
    )
    # fillfactor 80 leaves room on each page so heartbeats stay HOT updates.
    op.execute(
        "CREATE INDEX tasks_ready ON tasks (priority DESC, run_at, id) WHERE state = 'queued'"
    )
    op.execute("CREATE INDEX tasks_running ON tasks (id) WHERE state = 'running'")
    op.execute(
        "CREATE UNIQUE INDEX tasks_idempotency_key ON tasks (idempotency_key) "
        "WHERE idempotency_key IS NOT NULL"
    )
    op.execute("CREATE INDEX tasks_created ON tasks (created_at, id)")
    op.execute("CREATE INDEX tasks_state_created ON tasks (state, created_at, id)")

    op.execute(
        """
        CREATE TABLE task_events (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            task_id uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
            at timestamptz NOT NULL DEFAULT clock_timestamp(),
            kind text NOT NULL,
            from_state text,
            to_state text,
            lease_epoch bigint,
            worker_id uuid,
            attempt integer,
            detail jsonb NOT NULL DEFAULT '{}'::jsonb
        )
        """
    )
    op.execute("CREATE INDEX task_events_task ON task_events (task_id, id)")
    # A dead letter's attempt history: every attempt that ended in error since the last redrive.
    op.execute(
        """
        CREATE FUNCTION outlast_attempt_history(p_task uuid) RETURNS jsonb
        LANGUAGE sql STABLE AS $$
            SELECT coalesce(jsonb_agg(jsonb_build_object(
                       'attempt', e.attempt, 'at', e.at, 'kind', e.kind,
                       'worker_id', e.worker_id, 'error', e.detail->'error') ORDER BY e.id),
                   '[]'::jsonb)
            FROM task_events AS e
            WHERE e.task_id = p_task
              AND e.kind IN ('retry_scheduled', 'lease_expired', 'timed_out', 'failed')
              AND e.id > coalesce((SELECT max(r.id) FROM task_events AS r
                                   WHERE r.task_id = p_task AND r.kind = 'redriven'), 0)
        $$
        """
    )

    op.execute(
        """
        CREATE TABLE dead_letters (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            task_id uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
            graph text NOT NULL,
            error_type text NOT NULL,
            error_message text NOT NULL,
            traceback text,
            attempts integer NOT NULL,
            attempt_history jsonb NOT NULL,
            last_checkpoint_id text,
            created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            redriven_at timestamptz,
            redrive_mode text,
            CONSTRAINT dead_letters_redrive_mode_valid
                CHECK (redrive_mode IS NULL OR redrive_mode IN ('last_checkpoint', 'scratch', 'checkpoint')),
            CONSTRAINT dead_letters_redrive_complete
                CHECK ((redriven_at IS NULL) = (redrive_mode IS NULL))
        )
        """
    )
    op.execute(
        "CREATE UNIQUE INDEX dead_letters_open_task ON dead_letters (task_id) "
        "WHERE redriven_at IS NULL"
    )
    op.execute("CREATE INDEX dead_letters_created ON dead_letters (created_at, id)")

    op.execute(
        """
        CREATE TABLE workers (
            id uuid PRIMARY KEY,
            hostname text NOT NULL,
            pid integer NOT NULL,
            concurrency integer NOT NULL,
            state text NOT NULL DEFAULT 'running',
            started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            last_heartbeat_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            stopped_at timestamptz,
            CONSTRAINT workers_state_valid CHECK (state IN ('running', 'stopping', 'stopped', 'lost')),
            CONSTRAINT workers_stopped_iff_stopped_at CHECK ((state = 'stopped') = (stopped_at IS NOT NULL))
        )
        """
    )
    op.execute("CREATE INDEX workers_started ON workers (started_at, id)")


def downgrade() -> None:
    op.execute("DROP TABLE workers")
    op.execute("DROP TABLE dead_letters")
    op.execute("DROP FUNCTION outlast_attempt_history(uuid)")
    op.execute("DROP TABLE task_events")
    op.execute("DROP TABLE tasks")
    op.execute("DROP FUNCTION outlast_now()")
