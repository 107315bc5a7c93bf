-- Chunks a run's nodes wrote to LangGraph's stream writer (table stream_chunks, ADR 0027): the
-- LangGraph API's `custom` stream mode. Durable rows, written by the worker under the lease
-- fence, read by the API after an offset like every stream (ADR 0015).

-- name: stream_chunk_insert
-- The worker, as a chunk comes out of the graph's stream: the chunk, placed after the checkpoint
-- the worker saw last in that stream (`after_ns`/`after_id`; none yet, or not found: the task's
-- newest), fenced like every worker write, then a wake-up of the task's streams on the token
-- channel (payload the task id). No row: the lease is lost.
WITH fence AS (
    SELECT id, tenant
    FROM tasks
    WHERE id = %(task_id)s
      -- fence:begin
      AND lease_epoch = %(epoch)s
      AND state = 'running'
      AND lease_expires_at > outlast_now()
      -- fence:end
    FOR SHARE
), added AS (
    INSERT INTO stream_chunks (tenant, task_id, lease_epoch, after_seq, namespace, data)
    SELECT fence.tenant, fence.id, %(epoch)s,
           COALESCE(
               (SELECT o.seq FROM checkpoint_order AS o
                WHERE o.thread_id = fence.id::text AND o.checkpoint_ns = %(after_ns)s
                  AND o.checkpoint_id = %(after_id)s),
               (SELECT max(o.seq) FROM checkpoint_order AS o WHERE o.thread_id = fence.id::text),
               0),
           %(namespace)s, %(data)s::jsonb
    FROM fence
    RETURNING id
)
SELECT added.id, pg_notify('outlast_tokens', %(task_id)s::text) AS notified
FROM added;

-- name: stream_chunk_purge
-- A claim that resumes a run, before it runs: the chunks earlier attempts wrote in steps that
-- never completed (no checkpoint of their namespace after them) go, since those steps run again
-- and write them anew; a stream replayed later has each completed step's chunks once. Fenced.
WITH fence AS (
    SELECT id
    FROM tasks
    WHERE id = %(task_id)s
      -- fence:begin
      AND lease_epoch = %(epoch)s
      AND state = 'running'
      AND lease_expires_at > outlast_now()
      -- fence:end
    FOR SHARE
), doomed AS (
    DELETE FROM stream_chunks AS c
    USING fence
    WHERE c.task_id = fence.id
      AND c.lease_epoch < %(epoch)s
      AND NOT EXISTS (SELECT FROM checkpoint_order AS o
                      WHERE o.thread_id = fence.id::text AND o.checkpoint_ns = c.namespace
                        AND o.seq > c.after_seq)
    RETURNING c.id
)
SELECT fence.id, (SELECT count(*) FROM doomed) AS purged
FROM fence;

-- name: stream_chunk_run
-- A run's stream: its chunks after the offset `after`, oldest first (stream_chunks_task); the
-- root namespace only unless :subgraphs. Tenant guarded like every API read.
SELECT c.id, c.after_seq, c.namespace, c.data, c.at
FROM stream_chunks AS c
WHERE c.task_id = %(task_id)s AND c.tenant = %(tenant)s AND c.id > %(after)s
  AND (c.namespace = '' OR %(subgraphs)s)
ORDER BY c.id
LIMIT %(limit)s;
