-- Token deltas of running model calls (ADR 0022): the live text a task stream shows while a call
-- runs. UNLOGGED and short-lived; the journal (llm_calls) is the record of every call.

-- name: llm_delta_insert
-- The worker's model seam: a batch of a call's streamed text, in arrival order, then a wake-up
-- of the task's streams on their own channel (tenant streams do not hear tokens). Not fenced by
-- the lease: a fenced-off worker's deltas are harmless noise beside a live one's, and the
-- journaled call is the truth; the tenant comes from the task row (no row: the task is gone, nothing).
-- `after_seq` is the task's newest checkpoint (checkpoint_order seq, 0: none): the call runs in
-- a node, so its step's checkpoint is not written yet, and a run's stream serves the delta after
-- that one (ADR 0027).
WITH task AS (
    SELECT t.id, t.tenant,
           (SELECT coalesce(max(o.seq), 0) FROM checkpoint_order AS o
            WHERE o.thread_id = t.id::text) AS after_seq
    FROM tasks t WHERE t.id = %(task_id)s
),
added AS (
    INSERT INTO llm_deltas (tenant, task_id, call_id, attempt, text, after_seq)
    SELECT task.tenant, task.id, %(call_id)s, piece.attempt, piece.text, task.after_seq
    FROM task,
         unnest(%(attempts)s::int[], %(texts)s::text[]) WITH ORDINALITY
             AS piece(attempt, text, n)
    ORDER BY piece.n
    RETURNING id
)
SELECT count(*) AS n, pg_notify('outlast_tokens', %(task_id)s::text) AS notified
FROM added
HAVING count(*) > 0;

-- name: llm_delta_task
-- A task stream: the task's deltas after an offset, oldest first (llm_deltas_task), tenant
-- guarded like every API read.
SELECT d.id, d.task_id, d.call_id, d.attempt, d.text, d.at
FROM llm_deltas d
WHERE d.task_id = %(task_id)s AND d.tenant = %(tenant)s AND d.id > %(after)s
ORDER BY d.id
LIMIT %(limit)s;

-- name: llm_delta_run
-- A LangGraph API run's stream (`messages-tuple`, `messages`, `events`): the run's deltas after an
-- offset, oldest first, each with the step key of its call (llm_calls: `<step>:<namespace>`)
-- and the checkpoint it came after. Tenant guarded like every API read.
SELECT d.id, d.call_id, d.attempt, d.text, d.after_seq, d.at, c.step_key
FROM llm_deltas d
JOIN llm_calls c ON c.id = d.call_id
WHERE d.task_id = %(task_id)s AND d.tenant = %(tenant)s AND d.id > %(after)s
ORDER BY d.id
LIMIT %(limit)s;

-- name: llm_delta_prune
-- The reaper: deltas older than the retention go (llm_deltas_at), a batch at a time. A client
-- back later than that finds the call's text in the journal (GET /v1/tasks/{id}/model-calls).
WITH doomed AS (
    SELECT id FROM llm_deltas
    WHERE at < outlast_now() - make_interval(secs => %(retention_s)s)
    ORDER BY at
    LIMIT %(batch)s
)
DELETE FROM llm_deltas d USING doomed WHERE d.id = doomed.id
RETURNING d.id;
