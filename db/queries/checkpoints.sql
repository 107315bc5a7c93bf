-- Reads of LangGraph's checkpoint tables (owned and written by langgraph-checkpoint-postgres),
-- and checkpoint_order, which orders a thread's checkpoints by the database instead of by the
-- writer's clock (a checkpoint id is a uuid6 from the writing process's wall clock; ADR 0007).

-- name: checkpoints_order_insert
-- Number a checkpoint as its thread's newest. Queued by the fenced saver in the transaction that
-- writes the checkpoint, before the fence, so it commits with it or not at all; one writer at a
-- time per thread (the lease), so `seq` follows the order the checkpoints were written in. A
-- checkpoint written again keeps its place.
-- fence: its transaction's lease_fence or lease_fence_last (worker/checkpointer.py): it takes the
-- claimed epoch only to record it.
INSERT INTO checkpoint_order (tenant, thread_id, checkpoint_ns, checkpoint_id, lease_epoch)
SELECT t.tenant, %(thread_id)s::text, %(checkpoint_ns)s, %(checkpoint_id)s, %(epoch)s
FROM tasks AS t
WHERE t.id = %(thread_id)s::text::uuid
ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id) DO NOTHING;

-- name: checkpoints_head
-- A thread's newest checkpoint in a namespace (NULL when it has none): the last one written.
SELECT outlast_checkpoint_head(%(thread_id)s, %(checkpoint_ns)s) AS checkpoint_id;

-- name: checkpoints_list
-- A task's checkpoints on its thread (root namespace), newest first by write order, paginated by
-- a checkpoint id (the page's last). A checkpoint with no order row (written by an unfenced
-- saver) sorts after the others, by id. The metadata shows `outlast_epoch`, the claim that wrote
-- the checkpoint, from its order row (ADR 0025: the checkpoint's own metadata no longer repeats it).
WITH ordered AS (
    SELECT c.*, coalesce(o.seq, 0) AS seq, o.lease_epoch
    FROM checkpoints AS c
    LEFT JOIN checkpoint_order AS o USING (thread_id, checkpoint_ns, checkpoint_id)
    WHERE c.thread_id = %(thread_id)s::text AND c.checkpoint_ns = ''
      AND EXISTS (SELECT FROM tasks AS t
                  WHERE t.id = %(thread_id)s::text::uuid AND t.tenant = %(tenant)s)
)
SELECT checkpoint_id, parent_checkpoint_id, checkpoint->>'ts' AS ts,
       metadata->>'source' AS source, (metadata->>'step')::int AS step,
       metadata || jsonb_strip_nulls(jsonb_build_object('outlast_epoch', lease_epoch)) AS metadata
FROM ordered
WHERE %(before_id)s::text IS NULL
   OR (seq, checkpoint_id) < (SELECT seq, checkpoint_id FROM ordered
                              WHERE checkpoint_id = %(before_id)s::text)
ORDER BY seq DESC, checkpoint_id DESC
LIMIT %(limit)s;

-- name: checkpoints_exists
-- Whether :checkpoint_id is on the task's thread (root namespace): a redrive "from a chosen
-- checkpoint" may only resume from that task's own history.
SELECT EXISTS (
    SELECT 1 FROM checkpoints
    WHERE thread_id = %(thread_id)s::text
      AND checkpoint_ns = ''
      AND checkpoint_id = %(checkpoint_id)s
      AND EXISTS (SELECT FROM tasks AS t
                  WHERE t.id = %(thread_id)s::text::uuid AND t.tenant = %(tenant)s)
) AS found;

