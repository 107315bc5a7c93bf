-- Runs of the LangGraph Platform API (ADR 0018): a run is a task, seen through its thread. A
-- task that named no thread is on its own, whose id is the task id. Every statement is an API
-- request's, filtered by tenant.

-- name: run_get
-- One run of a thread: another tenant's, or another thread's, is no row.
SELECT *
FROM tasks
WHERE id = %(run_id)s AND tenant = %(tenant)s AND coalesce(thread_id, id) = %(thread_id)s;

-- name: run_list
-- A thread's runs, newest first: a named thread's by tasks_thread, a task's own thread is the
-- task alone.
SELECT *
FROM tasks
WHERE tenant = %(tenant)s
  AND (thread_id = %(thread_id)s OR (id = %(thread_id)s AND thread_id IS NULL))
  AND (%(state)s::text[] IS NULL OR state = ANY(%(state)s::text[]))
ORDER BY created_at DESC, id DESC
LIMIT %(limit)s OFFSET %(offset)s;

-- name: run_checkpoints
-- A run's checkpoints (root namespace; with :subgraphs, its subgraphs' too) written after the
-- stream offset `after`, in write order:
-- a run's stream is an offset into its checkpoint_order rows (ADR 0018, the design of ADR 0015).
-- One writer at a time per thread (the lease), so a later seq is never committed before an
-- earlier one that will still commit; a zombie's rolled-back write is a gap nobody waits for.
SELECT seq, checkpoint_ns, checkpoint_id
FROM checkpoint_order
WHERE thread_id = %(run_id)s::text AND (checkpoint_ns = '' OR %(subgraphs)s)
  AND tenant = %(tenant)s
  AND seq > %(after)s
ORDER BY seq
LIMIT %(limit)s;

-- name: run_head
-- The run whose last checkpoint is the thread's state: the newest task of the thread that wrote
-- one (a run cancelled before its first step wrote none).
SELECT t.id, t.graph
FROM tasks AS t
WHERE t.tenant = %(tenant)s
  AND (t.thread_id = %(thread_id)s OR (t.id = %(thread_id)s AND t.thread_id IS NULL))
  AND EXISTS (SELECT FROM checkpoint_order AS c
              WHERE c.thread_id = t.id::text AND c.checkpoint_ns = '')
ORDER BY t.created_at DESC, t.id DESC
LIMIT 1;

-- name: run_by_checkpoint
-- The run of a thread that wrote a root checkpoint of that id: the oldest such task, since a
-- later run's first checkpoint is a copy of its predecessor's head under the same id (ADR 0018).
-- Another tenant's thread, or a checkpoint of no run of it, is no row.
SELECT t.id, t.graph
FROM tasks AS t
WHERE t.tenant = %(tenant)s
  AND (t.thread_id = %(thread_id)s OR (t.id = %(thread_id)s AND t.thread_id IS NULL))
  AND EXISTS (SELECT FROM checkpoints AS c
              WHERE c.thread_id = t.id::text AND c.checkpoint_ns = ''
                AND c.checkpoint_id = %(checkpoint_id)s)
ORDER BY t.created_at, t.id
LIMIT 1;

-- name: run_select
-- The tenant's runs in :states (POST /runs/cancel by status), on :thread_id when named (its
-- own thread's one task included), oldest first, at most :limit.
SELECT id, thread_id
FROM tasks
WHERE tenant = %(tenant)s
  AND state = ANY(%(states)s::text[])
  AND (%(thread_id)s::uuid IS NULL OR coalesce(thread_id, id) = %(thread_id)s::uuid)
ORDER BY created_at, id
LIMIT %(limit)s;

-- name: run_delete
-- Take a finished run off its named thread (DELETE /threads/{id}/runs/{run_id}): it goes on as
-- a task of its own (its history stays in /v1, as a rolled-back run's), and the thread's state
-- and next runs continue from the runs that are left. Not a state change: no event. An
-- unfinished run, another thread's or tenant's, or a run on its own thread is no row.
UPDATE tasks
SET thread_id = NULL
WHERE id = %(run_id)s AND tenant = %(tenant)s AND thread_id = %(thread_id)s
  AND state IN ('completed', 'failed', 'cancelled')
RETURNING id;
