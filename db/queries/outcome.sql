-- How an attempt ends, written by the worker that holds the lease: complete (many at once, the
-- group commit), fail (retry or dead letter), cancel acknowledged. Each is fenced (lease.sql
-- lease_fence) and appends its task_events row in the same statement.

-- name: outcome_cancel_ack
-- The worker stopped a task whose cancel was requested: cancelled, lease released. Fenced.
WITH now AS (
    SELECT outlast_now() AS t
), moved AS (
    UPDATE tasks
    SET state = 'cancelled',
        worker_id = NULL,
        lease_expires_at = NULL,
        finished_at = (SELECT t FROM now),
        updated_at = (SELECT t FROM now)
    WHERE id = %(task_id)s
      -- fence:begin
      AND lease_epoch = %(epoch)s
      AND state = 'running'
      AND lease_expires_at > outlast_now()
      -- fence:end
      AND cancel_requested
    RETURNING id, tenant, lease_epoch, attempts
), events AS (
    INSERT INTO task_events (tenant, task_id, kind, from_state, to_state, lease_epoch, worker_id, attempt)
    SELECT tenant, id, 'cancelled', 'running', 'cancelled', lease_epoch, %(worker_id)s, attempts
    FROM moved
)
SELECT id FROM moved;

-- name: outcome_complete_many
-- Record the results of many tasks a worker finished and finish them, in one statement (the
-- worker's group commit, worker/completions.py). Fenced row by row: a
-- task whose lease is lost is left alone and missing from the answer. `results` is JSON text.
-- The rows are locked one by one in id order (the LATERAL lock runs per row of the sorted batch,
-- by primary key), as the heartbeat locks them, so the two cannot deadlock. A task whose cancel
-- was requested ends `cancelled` with its result (SPEC guarantee 8), and its event says it finished
-- (detail.after = 'completed').
-- The ids and results are sent in binary (their placeholders end in b): dumping a batch's
-- arrays as text cost the worker more than the rest of a no-op task's completion (ADR 0019).
WITH now AS (
    SELECT outlast_now() AS t
), done AS (
    SELECT *
    FROM unnest(%(task_ids)b::uuid[], %(epochs)s::bigint[], %(results)b::text[])
         AS d (id, epoch, result)
    ORDER BY id
), locked AS (
    SELECT held.id, done.result
    FROM done
    CROSS JOIN LATERAL (
        SELECT t.id
        FROM tasks AS t
        WHERE t.id = done.id
          -- fence:begin
          AND lease_epoch = done.epoch
          AND state = 'running'
          AND lease_expires_at > outlast_now()
          -- fence:end
        FOR UPDATE
    ) AS held
), moved AS (
    UPDATE tasks AS t
    SET state = CASE WHEN t.cancel_requested THEN 'cancelled' ELSE 'completed' END,
        result = l.result::jsonb,
        error = NULL,
        worker_id = NULL,
        lease_expires_at = NULL,
        finished_at = (SELECT t FROM now),
        updated_at = (SELECT t FROM now)
    FROM locked AS l
    WHERE t.id = l.id
    RETURNING t.id, t.tenant, t.state, t.lease_epoch, t.attempts
), events AS (
    INSERT INTO task_events (tenant, task_id, kind, from_state, to_state, lease_epoch, worker_id, attempt,
                             detail)
    SELECT tenant, id, state, 'running', state, lease_epoch, %(worker_id)s, attempts,
           CASE WHEN state = 'cancelled' THEN jsonb_build_object('after', 'completed')
                ELSE '{}'::jsonb END
    FROM moved
)
SELECT id FROM moved;

-- name: outcome_fail
-- An attempt raised. Retry with exponential backoff and equal jitter (half fixed, half random)
-- while attempts remain and the error is retryable; otherwise fail the task and write its dead
-- letter in the same statement (the partial unique index allows one open dead letter per task).
-- Fenced. `cur` locks the row and decides retry-or-fail once, so every CTE agrees. A task whose
-- cancel was requested is neither retried nor dead-lettered: it ends `cancelled` (SPEC guarantee
-- 8), keeping the attempt's error, and its event says the attempt failed (detail.after).
WITH now AS (
    SELECT outlast_now() AS t
), cur AS (
    SELECT id, cancel_requested AS cancel,
           (%(retryable)s AND attempts < max_attempts AND NOT cancel_requested) AS retry,
           least(%(retry_max_s)s::float8,
                 %(retry_base_s)s::float8 * power(2, greatest(attempts - 1, 0)))
               * (0.5 + random() / 2) AS delay_s
    FROM tasks
    WHERE id = %(task_id)s
      -- fence:begin
      AND lease_epoch = %(epoch)s
      AND state = 'running'
      AND lease_expires_at > outlast_now()
      -- fence:end
    FOR UPDATE
), moved AS (
    UPDATE tasks AS t
    SET state = CASE WHEN c.cancel THEN 'cancelled' WHEN c.retry THEN 'queued' ELSE 'failed' END,
        run_at = CASE WHEN c.retry
                      THEN (SELECT t FROM now) + make_interval(secs => c.delay_s)
                      ELSE t.run_at END,
        worker_id = NULL,
        lease_expires_at = NULL,
        error = %(error)s,
        finished_at = CASE WHEN c.retry THEN NULL ELSE (SELECT t FROM now) END,
        updated_at = (SELECT t FROM now)
    FROM cur AS c
    WHERE t.id = c.id
    RETURNING t.id, t.tenant, t.state, t.run_at, t.attempts, t.lease_epoch, t.graph, t.error
), events AS (
    INSERT INTO task_events (tenant, task_id, kind, from_state, to_state, lease_epoch, worker_id, attempt,
                             detail)
    SELECT tenant, id, CASE state WHEN 'queued' THEN 'retry_scheduled' ELSE state END,
           'running', state, lease_epoch, %(worker_id)s, attempts,
           jsonb_build_object('error', error - 'traceback',
                              'retry_at', CASE WHEN state = 'queued' THEN run_at END)
           || CASE WHEN state = 'cancelled' THEN jsonb_build_object('after', 'failed')
                   ELSE '{}'::jsonb END
    FROM moved
), dead AS (
    INSERT INTO dead_letters (tenant, task_id, graph, error_type, error_message, traceback, attempts,
                              attempt_history, last_checkpoint_id)
    SELECT m.tenant, m.id, m.graph, m.error->>'type', m.error->>'message', m.error->>'traceback', m.attempts,
           outlast_attempt_history(m.id) || jsonb_build_array(jsonb_build_object(
               'attempt', m.attempts, 'at', (SELECT t FROM now), 'kind', 'failed',
               'worker_id', %(worker_id)s::uuid, 'error', m.error - 'traceback')),
           outlast_checkpoint_head(m.id::text, '')
    FROM moved AS m
    WHERE m.state = 'failed'
)
SELECT id, state, run_at FROM moved;
