-- Reads of LangGraph's checkpoint tables (owned and written by langgraph-checkpoint-postgres).

-- name: checkpoint_list
-- A task's checkpoints on its thread (root namespace), newest first, paginated by id.
SELECT checkpoint_id, parent_checkpoint_id, checkpoint->>'ts' AS ts,
       metadata->>'source' AS source, (metadata->>'step')::int AS step, metadata
FROM checkpoints
WHERE thread_id = %(thread_id)s
  AND checkpoint_ns = ''
  AND (%(before_id)s::text IS NULL OR checkpoint_id < %(before_id)s::text)
ORDER BY checkpoint_id DESC
LIMIT %(limit)s;

-- name: checkpoint_exists
-- Whether :checkpoint_id is on the task's thread (root namespace): a redrive "from a chosen
-- checkpoint" may only resume from that task's own history.
SELECT EXISTS (
    SELECT 1 FROM checkpoints
    WHERE thread_id = %(thread_id)s
      AND checkpoint_ns = ''
      AND checkpoint_id = %(checkpoint_id)s
) AS found;
