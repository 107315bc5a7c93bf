-- Tasks: submit, read, cancel, and the worker's fenced outcomes (complete, fail, cancel ack).
-- Every state change is one statement that guards on the current state in its WHERE clause,
-- appends its task_events row in the same statement, and answers with RETURNING.

-- name: task_insert
-- Submit one task; it becomes ready (ready_at, its place in the claim order) at its run_at.
-- A repeated Idempotency-Key inserts nothing and returns no row; the caller then
-- reads the existing task (task_get_by_idempotency_key). ON CONFLICT waits for a concurrent insert
-- of the same key to commit, so the read that follows always finds it.
WITH inserted AS (
    INSERT INTO tasks (graph, input, metadata, priority, run_at, ready_at, max_attempts,
                       timeout_s, wait_timeout_s, on_wait_timeout, idempotency_key, request_hash)
    SELECT %(graph)s, %(input)s, %(metadata)s, %(priority)s, ready.at, ready.at,
           %(max_attempts)s, %(timeout_s)s, %(wait_timeout_s)s, %(on_wait_timeout)s,
           %(idempotency_key)s, %(request_hash)s
    FROM (SELECT coalesce(%(run_at)s::timestamptz, outlast_now()) AS at) AS ready
    ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING *
), events AS (
    INSERT INTO task_events (task_id, kind, to_state, detail)
    SELECT id, 'submitted', 'queued', jsonb_build_object('run_at', run_at) FROM inserted
)
SELECT inserted.*, pg_notify('outlast_tasks', 'submitted') AS notified FROM inserted;

-- name: task_get_by_idempotency_key
-- The task an Idempotency-Key already created.
SELECT * FROM tasks WHERE idempotency_key = %(idempotency_key)s;

-- name: task_get
-- One task by id.
SELECT * FROM tasks WHERE id = %(task_id)s;

-- name: task_list
-- Newest first, keyset-paginated on (created_at, id) so a page costs the same at any depth.
SELECT *
FROM tasks
WHERE (%(state)s::text IS NULL OR state = %(state)s::text)
  AND (%(graph)s::text IS NULL OR graph = %(graph)s::text)
  AND (%(before_created_at)s::timestamptz IS NULL
       OR (created_at, id) < (%(before_created_at)s::timestamptz, %(before_id)s::uuid))
ORDER BY created_at DESC, id DESC
LIMIT %(limit)s;

-- name: task_events_list
-- A task's history, oldest first, paginated by event id.
SELECT id, task_id, at, kind, from_state, to_state, lease_epoch, worker_id, attempt, detail
FROM task_events
WHERE task_id = %(task_id)s AND id > %(after_id)s
ORDER BY id
LIMIT %(limit)s;

-- name: task_cancel
-- Cancel a task. Queued or waiting: cancelled at once. Running: the flag is raised and the worker
-- stops at its next node boundary (it sees the flag on its next heartbeat). The FOR UPDATE in
-- `cur` only captures the state being left, for the event row; the guard is in the UPDATE.
WITH now AS (
    SELECT outlast_now() AS t
), cur AS (
    SELECT id, state FROM tasks WHERE id = %(task_id)s FOR UPDATE
), moved AS (
    UPDATE tasks AS t
    SET cancel_requested = true,
        state = CASE WHEN c.state = 'running' THEN 'running' ELSE 'cancelled' END,
        finished_at = CASE WHEN c.state = 'running' THEN NULL ELSE (SELECT t FROM now) END,
        updated_at = (SELECT t FROM now)
    FROM cur AS c
    WHERE t.id = c.id
      AND t.state IN ('queued', 'running', 'waiting_for_approval', 'waiting_for_input', 'paused')
      AND NOT t.cancel_requested
    RETURNING t.*, c.state AS previous_state
), events AS (
    INSERT INTO task_events (task_id, kind, from_state, to_state, lease_epoch, detail)
    SELECT id, CASE WHEN state = 'cancelled' THEN 'cancelled' ELSE 'cancel_requested' END,
           previous_state, state, lease_epoch, jsonb_build_object('reason', %(reason)s::text)
    FROM moved
)
-- A running task's worker hears of the cancel at once on `outlast_cancel` (its heartbeat, which
-- returns the flag too, stays the source of truth).
SELECT m.*, n.notified
FROM moved AS m
LEFT JOIN LATERAL (
    SELECT pg_notify('outlast_cancel', m.id::text) AS notified WHERE m.state = 'running'
) AS n ON true;

-- name: task_cancel_ack
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
      AND lease_epoch = %(epoch)s
      AND state = 'running'
      AND lease_expires_at > (SELECT t FROM now)
      AND cancel_requested
    RETURNING id, lease_epoch, attempts
), events AS (
    INSERT INTO task_events (task_id, kind, from_state, to_state, lease_epoch, worker_id, attempt)
    SELECT id, 'cancelled', 'running', 'cancelled', lease_epoch, %(worker_id)s, attempts
    FROM moved
)
SELECT id FROM moved;

-- name: task_complete
-- Record a task's result and finish it. Fenced: lands only under the lease the worker holds.
-- A cancel requested while the run finished wins (SPEC guarantee 8): the task ends `cancelled`,
-- keeping the result it produced, and its event says it finished (detail.after = 'completed').
WITH now AS (
    SELECT outlast_now() AS t
), moved AS (
    UPDATE tasks
    SET state = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'completed' END,
        result = %(result)s,
        error = NULL,
        worker_id = NULL,
        lease_expires_at = NULL,
        finished_at = (SELECT t FROM now),
        updated_at = (SELECT t FROM now)
    WHERE id = %(task_id)s
      AND lease_epoch = %(epoch)s
      AND state = 'running'
      AND lease_expires_at > (SELECT t FROM now)
    RETURNING id, state, lease_epoch, attempts
), events AS (
    INSERT INTO task_events (task_id, kind, from_state, to_state, lease_epoch, worker_id, attempt,
                             detail)
    SELECT id, state, 'running', state, lease_epoch, %(worker_id)s, attempts,
           CASE WHEN state = 'cancelled' THEN jsonb_build_object('after', 'completed')
                ELSE '{}'::jsonb END
    FROM moved
)
SELECT id, state FROM moved;

-- name: task_complete_many
-- Record the results of many tasks a worker finished and finish them, in one statement (the
-- worker's group commit, worker/completions.py). Fenced row by row exactly as task_complete: a
-- task whose lease is lost is left alone and missing from the answer. `results` is JSON text.
-- The rows are locked one by one in id order (the LATERAL lock runs per row of the sorted batch,
-- by primary key), as the heartbeat locks them, so the two cannot deadlock. A task whose cancel
-- was requested ends `cancelled` with its result, as in task_complete.
WITH now AS (
    SELECT outlast_now() AS t
), done AS (
    SELECT *
    FROM unnest(%(task_ids)s::uuid[], %(epochs)s::bigint[], %(results)s::text[])
         AS d (id, epoch, result)
    ORDER BY id
), locked AS (
    SELECT held.id, done.result
    FROM done
    CROSS JOIN LATERAL (
        SELECT t.id
        FROM tasks AS t
        WHERE t.id = done.id
          AND t.lease_epoch = done.epoch
          AND t.state = 'running'
          AND t.lease_expires_at > (SELECT t FROM now)
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
    RETURNING t.id, t.state, t.lease_epoch, t.attempts
), events AS (
    INSERT INTO task_events (task_id, kind, from_state, to_state, lease_epoch, worker_id, attempt,
                             detail)
    SELECT id, state, 'running', state, lease_epoch, %(worker_id)s, attempts,
           CASE WHEN state = 'cancelled' THEN jsonb_build_object('after', 'completed')
                ELSE '{}'::jsonb END
    FROM moved
)
SELECT id FROM moved;

-- name: task_fail
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
      AND lease_epoch = %(epoch)s
      AND state = 'running'
      AND lease_expires_at > (SELECT t FROM now)
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
    RETURNING t.id, t.state, t.run_at, t.attempts, t.lease_epoch, t.graph, t.error
), events AS (
    INSERT INTO task_events (task_id, kind, from_state, to_state, lease_epoch, worker_id, attempt,
                             detail)
    SELECT id, CASE state WHEN 'queued' THEN 'retry_scheduled' ELSE state END,
           'running', state, lease_epoch, %(worker_id)s, attempts,
           jsonb_build_object('error', error - 'traceback',
                              'retry_at', CASE WHEN state = 'queued' THEN run_at END)
           || CASE WHEN state = 'cancelled' THEN jsonb_build_object('after', 'failed')
                   ELSE '{}'::jsonb END
    FROM moved
), dead AS (
    INSERT INTO dead_letters (task_id, graph, error_type, error_message, traceback, attempts,
                              attempt_history, last_checkpoint_id)
    SELECT m.id, m.graph, m.error->>'type', m.error->>'message', m.error->>'traceback', m.attempts,
           outlast_attempt_history(m.id) || jsonb_build_array(jsonb_build_object(
               'attempt', m.attempts, 'at', (SELECT t FROM now), 'kind', 'failed',
               'worker_id', %(worker_id)s::uuid, 'error', m.error - 'traceback')),
           outlast_checkpoint_head(m.id::text, '')
    FROM moved AS m
    WHERE m.state = 'failed'
)
SELECT id, state, run_at FROM moved;

-- name: task_insert_many
-- Submit a batch of tasks in one statement, so in one transaction: every task or none. Each
-- column arrives as an array with one element per task; WITH ORDINALITY keeps the caller's order,
-- which the INSERT follows (so run_at, read per row from the clock, rises through the batch) and
-- the final SELECT restores (RETURNING has no order). Every task gets its `submitted` event. The
-- NOTIFY is an uncorrelated subquery, so it runs once per batch, not once per row. No
-- Idempotency-Key: a batch is not replayable.
WITH batch AS (
    SELECT gen_random_uuid() AS id, b.*
    FROM unnest(%(graphs)s::text[], %(inputs)s::jsonb[], %(metadatas)s::jsonb[],
                %(priorities)s::smallint[], %(run_ats)s::timestamptz[], %(max_attempts)s::int[],
                %(timeouts_s)s::int[], %(wait_timeouts_s)s::int[], %(on_wait_timeouts)s::text[])
         WITH ORDINALITY AS b (graph, input, metadata, priority, run_at, max_attempts, timeout_s,
                               wait_timeout_s, on_wait_timeout, ord)
), inserted AS (
    INSERT INTO tasks (id, graph, input, metadata, priority, run_at, ready_at, max_attempts,
                       timeout_s, wait_timeout_s, on_wait_timeout)
    SELECT id, graph, input, metadata, priority, ready.at, ready.at, max_attempts, timeout_s,
           wait_timeout_s, on_wait_timeout
    FROM batch CROSS JOIN LATERAL (SELECT coalesce(batch.run_at, outlast_now()) AS at) AS ready
    ORDER BY ord
    RETURNING *
), events AS (
    INSERT INTO task_events (task_id, kind, to_state, detail)
    SELECT id, 'submitted', 'queued', jsonb_build_object('run_at', run_at) FROM inserted
)
SELECT inserted.*, (SELECT pg_notify('outlast_tasks', 'submitted')) AS notified
FROM inserted JOIN batch USING (id)
ORDER BY batch.ord;
