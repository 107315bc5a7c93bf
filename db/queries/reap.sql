-- The reaper's statements. Each is batched (LIMIT :batch) and takes its rows FOR UPDATE SKIP
-- LOCKED, so two reapers running at once split the work and never touch one row twice.

-- name: lease_reap_expired
-- Take back leases that expired (the worker died or froze) and attempts that overran timeout_s.
-- Attempts are counted at claim, so a task whose worker keeps dying still runs out: with attempts
-- left it is queued again after the same exponential backoff with equal jitter as task_fail
-- (:retry_base_s doubling per attempt, capped at :retry_max_s; so recovery is bounded by TTL +
-- reaper interval + that backoff), keeping its ready_at, its place in the claim order; without,
-- it fails and gets its dead letter here. A task whose cancel was requested is cancelled instead.
-- The epoch is not raised: the task leaves `running`, which already fences the old holder.
WITH now AS (
    SELECT outlast_now() AS t
), expired AS (
    SELECT id, worker_id,
           CASE WHEN timeout_s IS NOT NULL
                     AND attempt_started_at + make_interval(secs => timeout_s) <= (SELECT t FROM now)
                THEN 'timed_out' ELSE 'lease_expired' END AS reason,
           least(%(retry_max_s)s::float8,
                 %(retry_base_s)s::float8 * power(2, greatest(attempts - 1, 0)))
               * (0.5 + random() / 2) AS delay_s
    FROM tasks
    WHERE state = 'running'
      AND (lease_expires_at <= (SELECT t FROM now)
           OR (timeout_s IS NOT NULL
               AND attempt_started_at + make_interval(secs => timeout_s) <= (SELECT t FROM now)))
    ORDER BY id
    LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
), moved AS (
    UPDATE tasks AS t
    SET state = CASE WHEN t.cancel_requested THEN 'cancelled'
                     WHEN t.attempts < t.max_attempts THEN 'queued'
                     ELSE 'failed' END,
        run_at = CASE WHEN NOT t.cancel_requested AND t.attempts < t.max_attempts
                      THEN (SELECT t FROM now) + make_interval(secs => e.delay_s)
                      ELSE t.run_at END,
        worker_id = NULL,
        lease_expires_at = NULL,
        error = CASE WHEN t.cancel_requested THEN t.error
                     ELSE jsonb_build_object(
                         'type', CASE e.reason WHEN 'timed_out' THEN 'TaskTimeout'
                                               ELSE 'LeaseExpired' END,
                         'message', CASE e.reason
                             WHEN 'timed_out' THEN format('attempt %%s ran past timeout_s=%%s',
                                                          t.attempts, t.timeout_s)
                             ELSE format('worker %%s stopped heartbeating during attempt %%s',
                                         e.worker_id, t.attempts) END,
                         'retryable', true) END,
        finished_at = CASE WHEN t.cancel_requested OR t.attempts >= t.max_attempts
                           THEN (SELECT t FROM now) END,
        updated_at = (SELECT t FROM now)
    FROM expired AS e
    WHERE t.id = e.id AND t.state = 'running'
    RETURNING t.id, t.state, t.graph, t.attempts, t.lease_epoch, t.error, t.run_at, e.worker_id,
              e.reason
), events AS (
    INSERT INTO task_events (task_id, kind, from_state, to_state, lease_epoch, worker_id, attempt,
                             detail)
    SELECT id, reason, 'running', state, lease_epoch, worker_id, attempts,
           jsonb_build_object('error', error, 'retry_at', CASE WHEN state = 'queued' THEN run_at END)
    FROM moved
), dead AS (
    INSERT INTO dead_letters (task_id, graph, error_type, error_message, traceback, attempts,
                              attempt_history, last_checkpoint_id)
    SELECT m.id, m.graph, m.error->>'type', m.error->>'message', NULL, m.attempts,
           outlast_attempt_history(m.id) || jsonb_build_array(jsonb_build_object(
               'attempt', m.attempts, 'at', (SELECT t FROM now), 'kind', m.reason,
               'worker_id', m.worker_id, 'error', m.error)),
           outlast_checkpoint_head(m.id::text, '')
    FROM moved AS m
    WHERE m.state = 'failed'
)
SELECT id, state, reason, pg_notify('outlast_tasks', 'reaped') AS notified FROM moved;

-- name: workers_mark_lost
-- Workers silent for longer than :stale_s are marked lost (their leases expire on their own).
-- A lost worker that comes back sets itself running again on its next heartbeat.
UPDATE workers AS w
SET state = 'lost'
FROM (
    SELECT id FROM workers
    WHERE state IN ('running', 'stopping')
      AND last_heartbeat_at < outlast_now() - make_interval(secs => %(stale_s)s)
    ORDER BY id
    LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
) AS stale
WHERE w.id = stale.id
RETURNING w.id;

-- name: worker_sessions_end
-- End the sessions of silent workers that still hold a transaction open (ADR 0008). A worker
-- frozen (SIGSTOP, a paused VM) between sending a pipelined checkpoint write and its Sync keeps
-- that write's locks (the task row's share lock, the unique-index entries of its rows) for as
-- long as its connection lives, and a stopped process's kernel still answers TCP keepalives:
-- the reaper skips the locked task row, or the next owner waits on the locks forever while it
-- heartbeats. No server setting ends such a transaction before PostgreSQL 17's
-- transaction_timeout (the backend waits for the rest of the pipeline, so it is not idle in
-- transaction). A worker is silent when it holds a lease that has expired (its heartbeat extends
-- all its leases at once, and it fences itself at 80 %% of the TTL) or when it is marked lost;
-- only a transaction opened before it fell silent (before the lease ran out, or stale_s ago) is
-- ended. Ended, the transaction rolls back, which the fence makes harmless. Sessions are found by
-- the worker id in their application_name (db.workers.application_name); only those of a role
-- the reaper may signal (the same role, or a superuser reaper) are candidates. Each termination
-- waits up to a second, so the same pass can then take the task back.
WITH silent AS (
    SELECT worker_id AS id, lease_expires_at AS since
    FROM tasks
    WHERE state = 'running' AND lease_expires_at <= outlast_now() AND worker_id IS NOT NULL
    UNION ALL
    SELECT id, outlast_now() - make_interval(secs => %(stale_s)s)
    FROM workers
    WHERE state = 'lost'
)
SELECT a.pid, s.id AS worker_id, pg_terminate_backend(a.pid, 1000) AS ended
FROM pg_stat_activity AS a
JOIN (SELECT id, max(since) AS since FROM silent GROUP BY id) AS s
  ON a.application_name = %(session_prefix)s || s.id::text
WHERE a.xact_start < s.since
  AND a.pid <> pg_backend_pid()
  AND pg_has_role(a.usesysid, 'MEMBER');

-- name: tasks_prune_finished
-- Delete finished tasks older than the retention, with their LangGraph threads (the checkpoint
-- tables have no foreign key to tasks) and their events (no foreign key either, ADR 0006); waits
-- go by ON DELETE CASCADE. A task one of whose dead letters is still kept is not pruned: an open
-- dead letter (neither redriven nor resolved) is kept until an operator closes it, a closed one
-- :dead_letter_retention_s after it was closed (0: forever), and the cascade would take them with
-- the task. So a failed task waiting for an operator stays, whatever its age.
-- A pruned task's Idempotency-Key is free again. SKIP LOCKED: never waits on a busy row.
WITH doomed AS (
    SELECT id, id::text AS thread_id
    FROM tasks AS t
    WHERE state IN ('completed', 'failed', 'cancelled')
      AND finished_at < outlast_now() - make_interval(secs => %(retention_s)s)
      AND NOT EXISTS (
          SELECT FROM dead_letters AS d
          WHERE d.task_id = t.id
            AND (coalesce(d.redriven_at, d.resolved_at) IS NULL
                 OR %(dead_letter_retention_s)s::float8 = 0
                 OR coalesce(d.redriven_at, d.resolved_at)
                    >= outlast_now() - make_interval(secs => %(dead_letter_retention_s)s)))
    ORDER BY finished_at
    LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
), checkpoints_gone AS (
    DELETE FROM checkpoints WHERE thread_id IN (SELECT thread_id FROM doomed)
), order_gone AS (
    DELETE FROM checkpoint_order WHERE thread_id IN (SELECT thread_id FROM doomed)
), blobs_gone AS (
    DELETE FROM checkpoint_blobs WHERE thread_id IN (SELECT thread_id FROM doomed)
), writes_gone AS (
    DELETE FROM checkpoint_writes WHERE thread_id IN (SELECT thread_id FROM doomed)
), events_gone AS (
    DELETE FROM task_events WHERE task_id IN (SELECT id FROM doomed)
), tasks_gone AS (
    DELETE FROM tasks WHERE id IN (SELECT id FROM doomed) RETURNING id
)
SELECT count(*) AS pruned FROM tasks_gone;

-- name: dead_letters_prune_closed
-- Delete dead letters closed (redriven or resolved) longer ago than their own retention. Open
-- ones are never deleted here: they wait for an operator. The task stays, under its own retention.
DELETE FROM dead_letters
WHERE id IN (
    SELECT id FROM dead_letters
    WHERE coalesce(redriven_at, resolved_at) < outlast_now() - make_interval(secs => %(retention_s)s)
    LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
)
RETURNING id;

-- name: workers_prune_stopped
-- Forget worker rows that stopped (or were lost) longer ago than the retention.
DELETE FROM workers
WHERE id IN (
    SELECT id FROM workers
    WHERE state IN ('stopped', 'lost')
      AND last_heartbeat_at < outlast_now() - make_interval(secs => %(retention_s)s)
    LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
)
RETURNING id;
