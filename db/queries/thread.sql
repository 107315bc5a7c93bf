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
-- A tenant's threads, newest first, those whose metadata contains :metadata.
SELECT th.*,
       array(SELECT DISTINCT o.state FROM tasks AS o
             WHERE o.thread_id = th.id
               AND o.state NOT IN ('completed', 'failed', 'cancelled')) AS open_states,
       (SELECT l.state FROM tasks AS l WHERE l.thread_id = th.id
        ORDER BY l.created_at DESC, l.id DESC LIMIT 1) AS last_state
FROM threads AS th
WHERE th.tenant = %(tenant)s AND th.metadata @> %(metadata)s
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
