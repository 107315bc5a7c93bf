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

-- name: tool_call_replay
-- In a replay (tasks.replay_of), before a tool runs: while the replay has fewer than :from_call
-- completed model calls (every answer so far is the original's), record the original task's
-- matching tool call as this call's (its outcome, `replay_of_call` naming it) and answer it, so
-- a tool the original already ran is not run again (ADR 0023). The replay's j-th tool call (by
-- the order their keys were first written) matches the original's j-th, and only with the same
-- tool and arguments digest: step keys differ between the two tasks (LangGraph derives them
-- from checkpoint ids). Nothing (no row) when the call is at or past :from_call, when the
-- original has no such recorded call, or when this key already has a row here (a re-run after
-- a crash: tool_call_begin decides); the caller then goes on to tool_call_begin. The original
-- must be of the task's own tenant.
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
), own AS (
    SELECT FROM tool_calls AS c
    JOIN fence ON fence.id = c.task_id
    WHERE c.step_key = %(step_key)s AND c.seq = %(seq)s
), answered AS (
    SELECT count(c.id) AS calls
    FROM fence
    LEFT JOIN llm_calls AS c ON c.task_id = fence.id AND c.status = 'completed'
), made AS (
    SELECT count(*) AS calls
    FROM (SELECT DISTINCT c.step_key, c.seq
          FROM tool_calls AS c JOIN fence ON fence.id = c.task_id) AS k
), keys AS (
    SELECT o.step_key, o.seq, min(o.id) AS first_id
    FROM tool_calls AS o, fence
    WHERE o.task_id = %(source_id)s AND o.tenant = fence.tenant
    GROUP BY o.step_key, o.seq
    ORDER BY first_id
    OFFSET (SELECT calls FROM made)
    LIMIT 1
), original AS (
    SELECT o.id, o.status, o.result, o.error
    FROM tool_calls AS o
    JOIN keys ON o.task_id = %(source_id)s AND o.step_key = keys.step_key AND o.seq = keys.seq
    WHERE o.tool = %(tool)s
      AND o.arguments_digest = %(digest)s
      AND o.status IN ('completed', 'failed', 'skipped')
      AND (SELECT calls FROM answered) < %(from_call)s
      AND NOT EXISTS (SELECT FROM own)
    ORDER BY o.id DESC
    LIMIT 1
), reused AS (
    INSERT INTO tool_calls (tenant, task_id, step_key, seq, lease_epoch, tool, idempotent,
                            idempotency_key, arguments_digest, arguments, status, result, error,
                            finished_at, replay_of_call)
    SELECT fence.tenant, fence.id, %(step_key)s, %(seq)s, %(epoch)s, %(tool)s, %(idempotent)s,
           %(key)s, %(digest)s, %(arguments)s, original.status, original.result, original.error,
           outlast_now(), original.id
    FROM fence, original
    RETURNING id, status, result, error
)
SELECT 'recorded' AS outcome, id, status, result, error FROM reused;
