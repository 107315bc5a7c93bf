-- Threads (ADR 0018): a tenant's conversation, on which tasks (the LangGraph API's runs) run one
-- at a time, in submit order. A task that names no thread is on its own (thread id = task id) and
-- has no row here. Every statement an API request runs is filtered by tenant; `thread_previous`
-- is the worker's, by task id under its lease.

-- name: thread_insert
-- Create a thread, with the caller's id when it names one. Another thread of that id (this
-- tenant's or another's) inserts nothing and returns no row: the caller answers 409.
INSERT INTO threads (tenant, id, metadata)
VALUES (%(tenant)s, coalesce(%(thread_id)s::uuid, gen_random_uuid()), %(metadata)s)
ON CONFLICT (id) DO NOTHING
RETURNING *;

-- name: thread_get
-- One thread, with what its tasks say of it: the states of its unfinished tasks and its last
-- task's (tasks_thread, newest first). Another tenant's thread is no row.
SELECT th.*,
       array(SELECT DISTINCT o.state FROM tasks AS o
             WHERE o.thread_id = th.id
               AND o.state NOT IN ('completed', 'failed', 'cancelled')) AS open_states,
       (SELECT l.state FROM tasks AS l WHERE l.thread_id = th.id
        ORDER BY l.created_at DESC, l.id DESC LIMIT 1) AS last_state
FROM threads AS th
WHERE th.id = %(thread_id)s AND th.tenant = %(tenant)s;

-- name: thread_search
-- A tenant's threads, newest first, those whose metadata contains :metadata and whose status
-- is :status (any when NULL; the status as api/platform.py thread_status derives it from the
-- open states and the last state, ADR 0018), filtered before the page is cut.
SELECT th.*, s.open_states, s.last_state
FROM threads AS th
CROSS JOIN LATERAL (
    SELECT array(SELECT DISTINCT o.state FROM tasks AS o
                 WHERE o.thread_id = th.id
                   AND o.state NOT IN ('completed', 'failed', 'cancelled')) AS open_states,
           (SELECT l.state FROM tasks AS l WHERE l.thread_id = th.id
            ORDER BY l.created_at DESC, l.id DESC LIMIT 1) AS last_state
) AS s
WHERE th.tenant = %(tenant)s AND th.metadata @> %(metadata)s
  AND (%(status)s::text IS NULL
       OR %(status)s = CASE
            WHEN s.open_states && ARRAY['waiting_for_approval', 'waiting_for_input'] THEN 'interrupted'
            WHEN cardinality(s.open_states) > 0 THEN 'busy'
            WHEN s.last_state = 'failed' THEN 'error'
            ELSE 'idle'
          END)
ORDER BY th.created_at DESC, th.id DESC
LIMIT %(limit)s OFFSET %(offset)s;

-- name: thread_delete
-- Delete a thread none of whose tasks is unfinished. Its finished tasks stay (their history,
-- results and checkpoints are the tenant's record) and go back to threads of their own; the
-- foreign key is checked at the end of the statement, after they were detached.
WITH target AS (
    SELECT th.id
    FROM threads AS th
    WHERE th.id = %(thread_id)s AND th.tenant = %(tenant)s
      AND NOT EXISTS (SELECT FROM tasks AS o
                      WHERE o.thread_id = th.id
                        AND o.state NOT IN ('completed', 'failed', 'cancelled'))
), detached AS (
    UPDATE tasks SET thread_id = NULL
    WHERE thread_id = (SELECT id FROM target)
    RETURNING id
)
DELETE FROM threads
WHERE id = (SELECT id FROM target)
RETURNING id, (SELECT count(*) FROM detached) AS detached;

-- name: thread_previous
-- The task whose state a thread's new task starts from: the last one submitted before it on
-- its thread that wrote a checkpoint (a run cancelled before its first step has none). No row
-- for a task on its own thread, or the first on its thread.
SELECT p.id
FROM tasks AS me
JOIN tasks AS p
  ON p.thread_id = me.thread_id AND (p.created_at, p.id) < (me.created_at, me.id)
WHERE me.id = %(task_id)s
  AND EXISTS (SELECT FROM checkpoint_order AS c
              WHERE c.thread_id = p.id::text AND c.checkpoint_ns = '')
ORDER BY p.created_at DESC, p.id DESC
LIMIT 1;

-- name: thread_detach
-- Take rolled-back runs off their thread (multitask_strategy=rollback): each goes on as a task
-- of its own (its cancel was requested just before), the thread's state is what it was before
-- them, and the next run need not wait for them to stop. Not a state change: no event.
UPDATE tasks
SET thread_id = NULL
WHERE thread_id = %(thread_id)s AND tenant = %(tenant)s AND id = ANY(%(task_ids)s::uuid[])
RETURNING id;

-- name: thread_update
-- Merge :metadata into the tenant's thread's (PATCH /threads/{id}: its keys win). Not a task's
-- state change: no event. Another tenant's thread is no row.
UPDATE threads
SET metadata = metadata || %(metadata)s, updated_at = outlast_now()
WHERE id = %(thread_id)s AND tenant = %(tenant)s
RETURNING id;

-- name: thread_count
-- How many of the tenant's threads hold :metadata and have the thread status :status (any when
-- NULL), the status as api/platform.py thread_status derives it from their tasks (ADR 0018).
WITH found AS (
    SELECT CASE
             WHEN EXISTS (SELECT FROM tasks AS o WHERE o.thread_id = th.id
                            AND o.state IN ('waiting_for_approval', 'waiting_for_input'))
               THEN 'interrupted'
             WHEN EXISTS (SELECT FROM tasks AS o WHERE o.thread_id = th.id
                            AND o.state NOT IN ('completed', 'failed', 'cancelled'))
               THEN 'busy'
             WHEN (SELECT l.state FROM tasks AS l WHERE l.thread_id = th.id
                   ORDER BY l.created_at DESC, l.id DESC LIMIT 1) = 'failed'
               THEN 'error'
             ELSE 'idle'
           END AS status
    FROM threads AS th
    WHERE th.tenant = %(tenant)s AND th.metadata @> %(metadata)s
)
SELECT count(*) AS n FROM found WHERE %(status)s::text IS NULL OR status = %(status)s;

-- name: thread_copy
-- threads.copy: a new thread of the tenant's with the source's metadata, state and history.
-- A thread's checkpoints live under its runs' task ids (ADR 0018), so the copy is one task on
-- the new thread under whose id every checkpoint of the source's runs is copied (blobs and
-- writes too, but recorded human answers, as tasks_fork; and but the copies each run started
-- from, which are the run before's head under the same id: the copied chain is one). Their
-- order rows follow the source's write order, so the copy's head is the source's. The task is a
-- state update with nothing to apply (db/tasks.py UPDATE_STATE_INPUT): a worker completes it
-- running no node, and a next run on the copy continues from its head (thread_previous). A
-- source with no checkpoint gets a copy with no task. The source's transcript nodes lose
-- their owner, as for a fork. Another tenant's thread is no row.
WITH source AS (
    SELECT th.* FROM threads AS th WHERE th.id = %(thread_id)s AND th.tenant = %(tenant)s
), runs AS (
    SELECT t.* FROM tasks AS t JOIN source AS s ON t.thread_id = s.id
    WHERE t.tenant = %(tenant)s
), head AS (
    SELECT r.* FROM runs AS r
    WHERE EXISTS (SELECT FROM checkpoint_order AS c
                  WHERE c.thread_id = r.id::text AND c.checkpoint_ns = '')
    ORDER BY r.created_at DESC, r.id DESC
    LIMIT 1
), copy AS (
    INSERT INTO threads (tenant, id, metadata)
    SELECT s.tenant, gen_random_uuid(), s.metadata FROM source AS s
    RETURNING *
), inserted AS (
    INSERT INTO tasks (tenant, graph, agent, agent_version, agent_overrides, input, metadata,
                       priority, run_at, ready_at, max_attempts, thread_id)
    SELECT h.tenant, h.graph, h.agent, h.agent_version, h.agent_overrides,
           '{"outlast_update_state": true}'::jsonb,
           jsonb_build_object('outlast', 'copy', 'copied_from', %(thread_id)s::text),
           h.priority, outlast_now(), outlast_now(), h.max_attempts, c.id
    FROM head AS h, copy AS c
    RETURNING *
), cps AS (
    SELECT c.*, o.seq, r.created_at AS run_created_at, r.id AS run_id
    FROM runs AS r
    JOIN checkpoints AS c ON c.thread_id = r.id::text
    LEFT JOIN checkpoint_order AS o
      ON o.thread_id = c.thread_id AND o.checkpoint_ns = c.checkpoint_ns
     AND o.checkpoint_id = c.checkpoint_id
    WHERE NOT (c.checkpoint_ns = '' AND c.metadata->>'source' = 'fork')
), copied_checkpoints AS (
    INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type,
                             checkpoint, metadata)
    SELECT i.id::text, cps.checkpoint_ns, cps.checkpoint_id, cps.parent_checkpoint_id, cps.type,
           cps.checkpoint, cps.metadata
    FROM inserted AS i, cps
    ON CONFLICT DO NOTHING
), copied_order AS (
    INSERT INTO checkpoint_order (tenant, thread_id, checkpoint_ns, checkpoint_id, lease_epoch)
    SELECT i.tenant, i.id::text, cps.checkpoint_ns, cps.checkpoint_id, i.lease_epoch
    FROM inserted AS i, cps
    ORDER BY cps.run_created_at, cps.run_id, cps.seq NULLS FIRST, cps.checkpoint_id
    ON CONFLICT DO NOTHING
), copied_blobs AS (
    INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, blob)
    SELECT i.id::text, b.checkpoint_ns, b.channel, b.version, b.type, b.blob
    FROM inserted AS i, runs AS r
    JOIN checkpoint_blobs AS b ON b.thread_id = r.id::text
    ON CONFLICT DO NOTHING
), copied_writes AS (
    INSERT INTO checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel,
                                   type, blob, task_path)
    SELECT i.id::text, w.checkpoint_ns, w.checkpoint_id, w.task_id, w.idx, w.channel, w.type,
           w.blob, w.task_path
    FROM inserted AS i, cps
    JOIN checkpoint_writes AS w
      ON w.thread_id = cps.thread_id AND w.checkpoint_ns = cps.checkpoint_ns
     AND w.checkpoint_id = cps.checkpoint_id
    WHERE w.channel <> '__resume__'
    ON CONFLICT DO NOTHING
), shared AS (
    -- The copy reads the source's transcript nodes: none goes with a source run's retention.
    UPDATE transcript_messages AS m
    SET owner = NULL
    FROM runs AS r
    WHERE m.tenant = %(tenant)s AND m.owner = r.id AND EXISTS (SELECT FROM inserted)
), events AS (
    INSERT INTO task_events (tenant, task_id, kind, to_state, detail)
    SELECT tenant, id, 'submitted', 'queued', jsonb_build_object('copied_from', %(thread_id)s::text)
    FROM inserted
)
SELECT copy.*, (SELECT pg_notify('outlast_tasks', 'submitted') FROM inserted) AS notified
FROM copy;
