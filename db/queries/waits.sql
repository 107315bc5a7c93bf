-- Humans in the loop. A graph's interrupt becomes a task_waits row; the task waits holding no
-- lease and no worker slot; each wait gets exactly one decision; when none is left open the task
-- is queued and any worker resumes it with Command(resume=...).

-- name: waits_park
-- The worker's run stopped on interrupts nobody has answered: record one wait per interrupt and
-- park the task, releasing its lease. Fenced. Waits already recorded (the same interrupt raised
-- again after a crash) keep their clock; one that timed out with outcome `fail` (the task was
-- then redriven) is asked again. Attempts restart at 0: reaching a wait is success, and the next
-- run gets a full retry budget. A task whose cancel was requested is not parked but cancelled
-- (SPEC guarantee 8): no wait is recorded, and its event says it stopped on interrupts.
WITH now AS (
    SELECT outlast_now() AS t
), moved AS (
    UPDATE tasks
    SET state = CASE WHEN cancel_requested THEN 'cancelled'
                     WHEN 'approval' = ANY (%(kinds)s::text[]) THEN 'waiting_for_approval'
                     ELSE 'waiting_for_input' END,
        attempts = CASE WHEN cancel_requested THEN attempts ELSE 0 END,
        worker_id = NULL,
        lease_expires_at = NULL,
        finished_at = CASE WHEN cancel_requested THEN (SELECT t FROM now) END,
        updated_at = (SELECT t FROM now)
    WHERE id = %(task_id)s
      -- fence:begin
      AND lease_epoch = %(epoch)s
      AND state = 'running'
      AND lease_expires_at > outlast_now()
      -- fence:end
    RETURNING id, tenant, state, lease_epoch, wait_timeout_s, on_wait_timeout
), waits AS (
    INSERT INTO task_waits AS tw (tenant, task_id, interrupt_id, kind, payload, expires_at,
                                  on_timeout)
    SELECT m.tenant, m.id, w.interrupt_id, w.kind, w.payload,
           (SELECT t FROM now) + make_interval(
               secs => coalesce(w.timeout_s, m.wait_timeout_s, %(default_timeout_s)s)),
           coalesce(w.on_timeout, m.on_wait_timeout, 'fail')
    FROM moved AS m,
         jsonb_to_recordset(%(waits)s::jsonb)
             AS w (interrupt_id text, kind text, payload jsonb, timeout_s float8, on_timeout text)
    WHERE m.state <> 'cancelled'
    ON CONFLICT (task_id, interrupt_id) DO UPDATE
    SET decision = NULL, value = NULL, decided_by = NULL, comment = NULL, decided_at = NULL,
        created_at = excluded.created_at, expires_at = excluded.expires_at
    WHERE tw.decision = 'timed_out' AND tw.on_timeout = 'fail'
    RETURNING tw.id
), events AS (
    INSERT INTO task_events (tenant, task_id, kind, from_state, to_state, lease_epoch, worker_id, detail)
    SELECT tenant, id, CASE state WHEN 'cancelled' THEN 'cancelled' ELSE 'waiting' END, 'running', state,
           lease_epoch, %(worker_id)s,
           jsonb_build_object('interrupts', %(waits)s::jsonb)
           || CASE WHEN state = 'cancelled' THEN jsonb_build_object('after', 'waiting')
                   ELSE '{}'::jsonb END
    FROM moved
)
SELECT id, state FROM moved;

-- name: waits_answers
-- The answers already given to these interrupts, as resume values. A wait that timed out with
-- outcome `fail` is not an answer (the task failed instead).
SELECT interrupt_id, value
FROM task_waits
WHERE task_id = %(task_id)s
  AND interrupt_id = ANY (%(interrupt_ids)s::text[])
  AND decided_at IS NOT NULL
  AND NOT (decision = 'timed_out' AND on_timeout = 'fail');

-- name: waits_list_for_task
-- A task's waits, oldest first (the open ones and their decisions).
SELECT * FROM task_waits
WHERE tenant = %(tenant)s AND task_id = %(task_id)s
ORDER BY created_at, id;

-- name: waits_decide
-- Record the one decision a wait gets (compare-and-set on decided_at IS NULL), then move the
-- task: queued when no wait is left open, else waiting on what remains (approval first).
-- Run after tasks_lock_for_decision, in its transaction.
WITH now AS (
    SELECT outlast_now() AS t
), decided AS (
    UPDATE task_waits
    SET decision = %(decision)s, value = %(value)s, decided_by = %(decided_by)s,
        comment = %(comment)s, decided_at = (SELECT t FROM now)
    WHERE id = %(wait_id)s AND task_id = %(task_id)s AND tenant = %(tenant)s
      AND decided_at IS NULL
    RETURNING *
), remaining AS (
    SELECT count(*) FILTER (WHERE kind = 'approval') AS approvals, count(*) AS total
    FROM task_waits
    WHERE task_id = %(task_id)s AND decided_at IS NULL AND id NOT IN (SELECT id FROM decided)
), moved AS (
    UPDATE tasks AS t
    SET state = CASE WHEN r.total = 0 THEN 'queued'
                     WHEN r.approvals > 0 THEN 'waiting_for_approval'
                     ELSE 'waiting_for_input' END,
        run_at = (SELECT t FROM now),
        updated_at = (SELECT t FROM now)
    FROM remaining AS r, decided AS d
    WHERE t.id = d.task_id AND t.state IN ('waiting_for_approval', 'waiting_for_input')
    RETURNING t.*, to_jsonb(d) AS decided_wait
), events AS (
    INSERT INTO task_events (tenant, task_id, kind, from_state, to_state, lease_epoch, detail)
    SELECT tenant, id, 'decided', %(from_state)s, state, lease_epoch,
           jsonb_build_object('wait_id', decided_wait->'id',
                              'interrupt_id', decided_wait->'interrupt_id',
                              'decision', %(decision)s::text, 'decided_by', %(decided_by)s::text)
    FROM moved
)
SELECT moved.*, pg_notify('outlast_tasks', 'decided') AS notified FROM moved;

-- name: waits_list_open
-- The approvals inbox: every open wait of a waiting task, oldest first, keyset-paginated.
SELECT w.*, t.graph, t.state AS task_state, t.metadata AS task_metadata
FROM task_waits AS w
JOIN tasks AS t ON t.id = w.task_id
WHERE w.tenant = %(tenant)s
  AND w.decided_at IS NULL
  AND t.state IN ('waiting_for_approval', 'waiting_for_input')
  AND (%(graph)s::text IS NULL OR t.graph = %(graph)s::text)
  AND (%(kind)s::text IS NULL OR w.kind = %(kind)s::text)
  AND (%(after_created_at)s::timestamptz IS NULL
       OR (w.created_at, w.id) > (%(after_created_at)s::timestamptz, %(after_id)s::uuid))
ORDER BY w.created_at, w.id
LIMIT %(limit)s;

-- name: waits_lock_expired
-- The reaper's first step on wait timeouts: lock waiting tasks that have an expired open wait.
-- SKIP LOCKED: a decision in flight on a task holds its row; the next pass gets it.
SELECT t.id
FROM tasks AS t
WHERE t.state IN ('waiting_for_approval', 'waiting_for_input')
  AND EXISTS (SELECT 1 FROM task_waits AS w
              WHERE w.task_id = t.id AND w.decided_at IS NULL AND w.expires_at <= outlast_now())
ORDER BY t.id
LIMIT %(batch)s
FOR UPDATE OF t SKIP LOCKED;

-- name: waits_expire
-- Apply each expired wait's outcome on the tasks waits_lock_expired locked (same transaction):
-- `reject` answers an approval with a rejection, `default` answers with the interrupt's default,
-- `fail` fails the task (with its dead letter). Then, as a decision would, queue the task when
-- no wait is left open.
WITH now AS (
    SELECT outlast_now() AS t
), expired AS (
    UPDATE task_waits AS w
    SET decision = 'timed_out', decided_by = 'timeout', decided_at = (SELECT t FROM now),
        value = CASE w.on_timeout
            WHEN 'reject' THEN jsonb_build_object('approved', false, 'args', w.payload->'args',
                                                  'reason', 'timed out', 'timed_out', true)
            WHEN 'default' THEN w.payload->'default'
            END
    WHERE w.task_id = ANY (%(task_ids)s::uuid[])
      AND w.decided_at IS NULL
      AND w.expires_at <= (SELECT t FROM now)
    RETURNING w.id, w.task_id, w.on_timeout, w.interrupt_id
), per_task AS (
    SELECT task_id, bool_or(on_timeout = 'fail') AS fail, jsonb_agg(interrupt_id) AS interrupts
    FROM expired
    GROUP BY task_id
), remaining AS (
    SELECT p.task_id,
           count(w.id) FILTER (WHERE w.kind = 'approval') AS approvals, count(w.id) AS total
    FROM per_task AS p
    LEFT JOIN task_waits AS w
           ON w.task_id = p.task_id AND w.decided_at IS NULL
          AND w.id NOT IN (SELECT id FROM expired)
    GROUP BY p.task_id
), moved AS (
    UPDATE tasks AS t
    SET state = CASE WHEN p.fail THEN 'failed'
                     WHEN r.total = 0 THEN 'queued'
                     WHEN r.approvals > 0 THEN 'waiting_for_approval'
                     ELSE 'waiting_for_input' END,
        error = CASE WHEN p.fail
                     THEN jsonb_build_object('type', 'WaitTimeout', 'retryable', false,
                                             'message', format('nobody answered %%s in time',
                                                               p.interrupts))
                     ELSE t.error END,
        finished_at = CASE WHEN p.fail THEN (SELECT t FROM now) END,
        run_at = (SELECT t FROM now),
        updated_at = (SELECT t FROM now)
    FROM per_task AS p
    JOIN remaining AS r USING (task_id)
    WHERE t.id = p.task_id AND t.state IN ('waiting_for_approval', 'waiting_for_input')
    RETURNING t.id, t.tenant, t.state, t.graph, t.attempts, t.lease_epoch, t.error, p.interrupts
), events AS (
    INSERT INTO task_events (tenant, task_id, kind, from_state, to_state, lease_epoch, detail)
    SELECT tenant, id, 'wait_timed_out', NULL, state, lease_epoch,
           jsonb_build_object('interrupts', interrupts, 'error', error)
    FROM moved
), dead AS (
    INSERT INTO dead_letters (tenant, task_id, graph, error_type, error_message, traceback, attempts,
                              attempt_history, last_checkpoint_id)
    SELECT m.tenant, m.id, m.graph, m.error->>'type', m.error->>'message', NULL, m.attempts,
           outlast_attempt_history(m.id) || jsonb_build_array(jsonb_build_object(
               'attempt', m.attempts, 'at', (SELECT t FROM now), 'kind', 'wait_timed_out',
               'error', m.error)),
           outlast_checkpoint_head(m.id::text, '')
    FROM moved AS m
    WHERE m.state = 'failed'
)
SELECT id, state, pg_notify('outlast_tasks', 'wait_timed_out') AS notified FROM moved;
