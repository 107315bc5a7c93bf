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
