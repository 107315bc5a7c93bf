-- The two-phase tool ledger (table tool_calls, docs/adr/0014-tool-ledger.md): before a tool
-- runs, an intent row commits under the lease fence; after it ran, the outcome. Keyed like the
-- LLM-call journal by (step key, seq), the node run and the call's place in it, so a re-run of
-- the node after a crash finds the calls its first run made. No statement is held open across
-- the tool call itself.

-- name: tool_call_begin
-- Before a tool runs. The newest row under this key decides (one statement, so two zombies
-- cannot both start the call): none -> insert the intent ('started'); a recorded outcome
-- (completed, failed, skipped) with the same tool and arguments digest -> 'recorded', reuse it;
-- other arguments -> 'mismatch' (a key reused with other arguments is an error, not a second
-- effect); no outcome (a 'started' row becomes 'interrupted': it was in flight at a crash) ->
-- a new intent when the tool is idempotent or a person decided (`decision` retry, or skip /
-- done recorded at once), else 'unknown'. No row at all means the lease is lost.
WITH fence AS (
    SELECT id, tenant, lease_epoch
    FROM tasks
    WHERE id = %(task_id)s
      -- fence:begin
      AND lease_epoch = %(epoch)s
      AND state = 'running'
      AND lease_expires_at > outlast_now()
      -- fence:end
    FOR SHARE
), newest AS (
    SELECT c.id, c.tool, c.arguments_digest, c.status, c.result, c.error
    FROM tool_calls AS c
    JOIN fence ON fence.id = c.task_id
    WHERE c.step_key = %(step_key)s AND c.seq = %(seq)s
    ORDER BY c.id DESC
    LIMIT 1
), crashed AS (
    UPDATE tool_calls AS c
    SET status = 'interrupted', finished_at = outlast_now()
    FROM newest
    WHERE c.id = newest.id AND newest.status = 'started'
    RETURNING c.id
), verdict AS (
    SELECT f.id AS task_id, f.tenant, n.id AS call_id, n.status, n.result, n.error,
           CASE WHEN n.id IS NULL THEN 'new'
                WHEN n.tool <> %(tool)s OR n.arguments_digest <> %(digest)s THEN 'mismatch'
                WHEN n.status IN ('completed', 'failed', 'skipped') THEN 'recorded'
                WHEN %(idempotent)s OR %(decision)s::text IS NOT NULL THEN 'new'
                ELSE 'unknown' END AS outcome
    FROM fence AS f
    LEFT JOIN newest AS n ON true
), inserted AS (
    INSERT INTO tool_calls (tenant, task_id, step_key, seq, lease_epoch, tool, idempotent,
                            idempotency_key, arguments_digest, arguments, status, decision,
                            result, error, finished_at)
    SELECT v.tenant, v.task_id, %(step_key)s, %(seq)s, %(epoch)s, %(tool)s, %(idempotent)s,
           %(key)s, %(digest)s, %(arguments)s,
           CASE %(decision)s::text WHEN 'skip' THEN 'skipped' WHEN 'done' THEN 'completed'
                ELSE 'started' END,
           %(decision)s::text,
           CASE WHEN %(decision)s::text = 'done' THEN %(result)s::jsonb END,
           CASE WHEN %(decision)s::text = 'skip' THEN 'skipped by a person' END,
           CASE WHEN %(decision)s::text IN ('skip', 'done') THEN outlast_now() END
    FROM verdict AS v
    WHERE v.outcome = 'new'
    RETURNING id, status, result, error
)
SELECT CASE WHEN i.status = 'started' THEN 'started' ELSE 'recorded' END AS outcome,
       i.id, i.status, i.result, i.error
FROM inserted AS i
UNION ALL
SELECT v.outcome, v.call_id, v.status, v.result, v.error
FROM verdict AS v
WHERE v.outcome <> 'new';

-- name: tool_call_finish
-- After a tool ran: the outcome of the intent :call_id this lease started ('completed' with
-- the result, or 'failed' with the error). Fenced; no row means the lease is lost.
WITH fence AS (
    SELECT id, lease_epoch
    FROM tasks
    WHERE id = %(task_id)s
      -- fence:begin
      AND lease_epoch = %(epoch)s
      AND state = 'running'
      AND lease_expires_at > outlast_now()
      -- fence:end
    FOR SHARE
)
UPDATE tool_calls AS c
SET status = %(status)s, result = %(result)s, error = %(error)s, finished_at = outlast_now()
FROM fence
WHERE c.id = %(call_id)s
  AND c.task_id = fence.id
  AND c.lease_epoch = fence.lease_epoch
  AND c.status = 'started'
RETURNING c.id;
