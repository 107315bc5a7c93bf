-- The LLM-call journal (table llm_calls): a task's model calls, keyed by (step key, seq), with
-- their responses, usage and cost. Every write carries the lease fence: the task is running,
-- under the writer's epoch, with an unexpired lease, and its row is locked FOR SHARE so a claim
-- waits for the write. No statement here is held open across the model call itself: begin and
-- finish are two short statements on either side of it.

-- name: llm_call_begin
-- Before a model call: answer the newest completed call recorded under this key with the same
-- request digest (outcome 'reused': the caller returns its response and calls nothing), or
-- insert a 'started' row (outcome 'started'). Calls of this key left 'started' by an earlier
-- lease were in flight at a crash: they become 'interrupted' (they may have been billed). No row
-- at all means the lease is lost.
-- The request's messages and tools are not in its row: it names their lists by head digest, and
-- the lists' nodes the caller does not know to be stored are inserted here (transcript_messages,
-- ADR 0012), under the task's tenant, in this one fenced statement; a call that is reused
-- inserts nothing.
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
), recorded AS (
    -- The response whole: its row holds only what its columns do not (ADR 0025).
    SELECT c.id, CASE WHEN c.response ? 'provider' OR c.provider IS NULL THEN c.response
                ELSE jsonb_build_object(
                    'provider', c.provider, 'model', c.model, 'latency_ms', c.latency_ms,
                    'usage', jsonb_build_object(
                        'input_tokens', c.input_tokens, 'output_tokens', c.output_tokens,
                        'cache_read_tokens', c.cache_read_tokens,
                        'cache_write_tokens', c.cache_write_tokens)
                ) || c.response END AS response
    FROM llm_calls AS c
    JOIN fence ON fence.id = c.task_id
    WHERE c.step_key = %(step_key)s
      AND c.seq = %(seq)s
      AND c.status = 'completed'
      AND c.request_digest = %(digest)s
    ORDER BY c.id DESC
    LIMIT 1
), crashed AS (
    UPDATE llm_calls AS c
    SET status = 'interrupted', finished_at = outlast_now()
    FROM fence
    WHERE c.task_id = fence.id
      AND c.step_key = %(step_key)s
      AND c.seq = %(seq)s
      AND c.status = 'started'
      AND c.lease_epoch < fence.lease_epoch
    RETURNING c.id
), nodes AS (
    INSERT INTO transcript_messages (tenant, digest, parent, position, encoding, content, owner)
    SELECT fence.tenant, n.digest, n.parent, n.position, n.encoding, n.content, fence.id
    FROM fence
    CROSS JOIN unnest(
        %(node_digests)s::bytea[], %(node_parents)s::bytea[], %(node_positions)s::integer[],
        %(node_encodings)s::text[], %(node_contents)s::bytea[]
    ) AS n (digest, parent, position, encoding, content)
    WHERE NOT EXISTS (SELECT FROM recorded)
    ON CONFLICT (tenant, digest) DO UPDATE SET owner = NULL
    WHERE transcript_messages.owner <> excluded.owner
), started AS (
    INSERT INTO llm_calls (tenant, task_id, step_key, seq, lease_epoch, request_digest, request)
    SELECT fence.tenant, fence.id, %(step_key)s, %(seq)s, %(epoch)s, %(digest)s, %(request)s
    FROM fence
    WHERE NOT EXISTS (SELECT FROM recorded)
    RETURNING id
)
SELECT 'reused' AS outcome, id, response, (SELECT count(*) FROM crashed) AS interrupted
FROM recorded
UNION ALL
SELECT 'started', id, NULL, (SELECT count(*) FROM crashed)
FROM started;

-- name: llm_call_finish
-- After a model call: record how the call :call_id ended ('completed' with the response, usage
-- and cost, or 'failed' with the error). Fenced; only a row this lease started and left
-- 'started'. No row means the lease is lost. The response's text, when long, is a transcript
-- node (ADR 0012) inserted here, under the task's tenant, and the response names it. The
-- response comes without what the row's columns hold (its provider, model, latency and usage,
-- ADR 0025), or whole when one of them differs: every read puts them back into a response
-- without `provider` (`jsonb_build_object(...) || response`), and a row written before, which
-- holds them, reads as it did.
WITH fence AS (
    SELECT id, lease_epoch, tenant
    FROM tasks
    WHERE id = %(task_id)s
      -- fence:begin
      AND lease_epoch = %(epoch)s
      AND state = 'running'
      AND lease_expires_at > outlast_now()
      -- fence:end
    FOR SHARE
), nodes AS (
    INSERT INTO transcript_messages (tenant, digest, parent, position, encoding, content, owner)
    SELECT fence.tenant, n.digest, n.parent, n.position, n.encoding, n.content, fence.id
    FROM fence
    CROSS JOIN unnest(
        %(node_digests)s::bytea[], %(node_parents)s::bytea[], %(node_positions)s::integer[],
        %(node_encodings)s::text[], %(node_contents)s::bytea[]
    ) AS n (digest, parent, position, encoding, content)
    WHERE EXISTS (
        SELECT FROM llm_calls AS c
        WHERE c.id = %(call_id)s AND c.task_id = fence.id
          AND c.lease_epoch = fence.lease_epoch AND c.status = 'started'
    )
    ON CONFLICT (tenant, digest) DO UPDATE SET owner = NULL
    WHERE transcript_messages.owner <> excluded.owner
)
UPDATE llm_calls AS c
SET status = %(status)s,
    response = %(response)s,
    error = %(error)s,
    provider = %(provider)s,
    model = %(model)s,
    input_tokens = %(input_tokens)s,
    output_tokens = %(output_tokens)s,
    cache_read_tokens = %(cache_read_tokens)s,
    cache_write_tokens = %(cache_write_tokens)s,
    cost_micro_usd = %(cost_micro_usd)s,
    price = %(price)s,
    price_source = %(price_source)s,
    latency_ms = %(latency_ms)s,
    finished_at = outlast_now()
FROM fence
WHERE c.id = %(call_id)s
  AND c.task_id = fence.id
  AND c.lease_epoch = fence.lease_epoch
  AND c.status = 'started'
RETURNING c.id;

-- name: llm_call_figures
-- A task's model-call figures: calls made (every row: each went, or may have gone, to a
-- provider), tokens and cost summed over them, calls without a known price, and calls in flight
-- at a crash: marked 'interrupted', or still 'started' under a lease the task no longer holds.
SELECT count(c.id) AS calls,
       count(c.id) FILTER (WHERE c.status = 'completed') AS completed,
       count(c.id) FILTER (WHERE c.status = 'failed') AS failed,
       count(c.id) FILTER (
           WHERE c.status = 'interrupted'
              OR (c.status = 'started'
                  AND (t.state <> 'running' OR c.lease_epoch < t.lease_epoch))
       ) AS in_flight_at_crash,
       coalesce(sum(c.input_tokens), 0) AS input_tokens,
       coalesce(sum(c.output_tokens), 0) AS output_tokens,
       coalesce(sum(c.cache_read_tokens), 0) AS cache_read_tokens,
       coalesce(sum(c.cache_write_tokens), 0) AS cache_write_tokens,
       coalesce(sum(c.cost_micro_usd), 0) AS cost_micro_usd,
       count(c.id) FILTER (WHERE c.status = 'completed' AND c.cost_micro_usd IS NULL) AS unpriced
FROM tasks AS t
LEFT JOIN llm_calls AS c ON c.task_id = t.id
WHERE t.id = %(task_id)s AND t.tenant = %(tenant)s
GROUP BY t.id;

-- name: llm_call_list
-- A task's journaled calls in the order they were started, paginated by id.
SELECT id, step_key, seq, lease_epoch, request_digest, status,
       CASE WHEN c.response ? 'provider' OR c.provider IS NULL THEN c.response
            ELSE jsonb_build_object(
                'provider', c.provider, 'model', c.model, 'latency_ms', c.latency_ms,
                'usage', jsonb_build_object(
                    'input_tokens', c.input_tokens, 'output_tokens', c.output_tokens,
                    'cache_read_tokens', c.cache_read_tokens,
                    'cache_write_tokens', c.cache_write_tokens)
            ) || c.response END AS response,
       error, provider, model,
       input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_micro_usd,
       price, price_source, latency_ms, started_at, finished_at
FROM llm_calls AS c
WHERE tenant = %(tenant)s AND task_id = %(task_id)s AND id > %(after_id)s
ORDER BY id
LIMIT %(limit)s;

-- name: llm_call_replay
-- In a replay (tasks.replay_of), before a model call: when the call is the replay's k-th and k is
-- below :from_call, record the original task's k-th call's response as this call's (a completed
-- row with `replay_of_call`, cost 0: nothing went to a provider) and answer it. A call's number
-- k is its rank among the task's completed calls in id order (failed and interrupted calls are
-- not answers and have no number), so a replay counts as the original counted. Nothing (no row)
-- when k >= :from_call, when the original has no k-th call, or when this node run already has
-- its answer under this key and digest (a re-run after a crash: llm_call_begin reuses it); the
-- caller then goes on to llm_call_begin. The original must be of the task's own tenant.
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
), answered AS (
    SELECT FROM llm_calls AS c
    JOIN fence ON fence.id = c.task_id
    WHERE c.step_key = %(step_key)s
      AND c.seq = %(seq)s
      AND c.status = 'completed'
      AND c.request_digest = %(digest)s
), rank AS (
    SELECT count(c.id) + 1 AS k
    FROM fence
    LEFT JOIN llm_calls AS c ON c.task_id = fence.id AND c.status = 'completed'
), original AS (
    -- Whole (llm_call_finish): the replay's row holds the original's usage and latency.
    SELECT o.id, CASE WHEN o.response ? 'provider' OR o.provider IS NULL THEN o.response
                ELSE jsonb_build_object(
                    'provider', o.provider, 'model', o.model, 'latency_ms', o.latency_ms,
                    'usage', jsonb_build_object(
                        'input_tokens', o.input_tokens, 'output_tokens', o.output_tokens,
                        'cache_read_tokens', o.cache_read_tokens,
                        'cache_write_tokens', o.cache_write_tokens)
                ) || o.response END AS response, o.provider, o.model
    FROM llm_calls AS o, fence, rank
    WHERE o.task_id = %(source_id)s
      AND o.tenant = fence.tenant
      AND o.status = 'completed'
      AND rank.k < %(from_call)s
      AND NOT EXISTS (SELECT FROM answered)
    ORDER BY o.id
    OFFSET (SELECT k - 1 FROM rank)
    LIMIT 1
), reused AS (
    INSERT INTO llm_calls (tenant, task_id, step_key, seq, lease_epoch, request_digest, request,
                           status, response, provider, model, cost_micro_usd, price_source,
                           latency_ms, replay_of_call, finished_at)
    SELECT fence.tenant, fence.id, %(step_key)s, %(seq)s, %(epoch)s, %(digest)s, %(request)s,
           'completed', original.response, original.provider, original.model, 0, 'replay', 0,
           original.id, outlast_now()
    FROM fence, original
    RETURNING id, response
)
SELECT id, response FROM reused;

-- name: llm_call_steps
-- A tenant's task's model calls summed per step (step key), in the order the steps began. Calls
-- a replay reused cost 0 and count no tokens (their tokens were the original's).
SELECT c.step_key,
       min(c.id) AS first_call_id,
       count(c.id) AS calls,
       count(c.id) FILTER (WHERE c.replay_of_call IS NOT NULL) AS reused,
       coalesce(sum(c.input_tokens), 0) AS input_tokens,
       coalesce(sum(c.output_tokens), 0) AS output_tokens,
       coalesce(sum(c.cache_read_tokens), 0) AS cache_read_tokens,
       coalesce(sum(c.cache_write_tokens), 0) AS cache_write_tokens,
       coalesce(sum(c.cost_micro_usd), 0) AS cost_micro_usd
FROM tasks AS t
JOIN llm_calls AS c ON c.task_id = t.id
WHERE t.id = %(task_id)s AND t.tenant = %(tenant)s
GROUP BY c.step_key
ORDER BY min(c.id);

-- name: llm_call_agent_usage
-- A tenant's agent's model calls summed per agent version, provider and model, over every task
-- submitted to it (index tasks_agent, then llm_calls by task).
SELECT t.agent_version,
       c.provider,
       c.model,
       count(DISTINCT t.id) AS tasks,
       count(c.id) AS calls,
       coalesce(sum(c.input_tokens), 0) AS input_tokens,
       coalesce(sum(c.output_tokens), 0) AS output_tokens,
       coalesce(sum(c.cache_read_tokens), 0) AS cache_read_tokens,
       coalesce(sum(c.cache_write_tokens), 0) AS cache_write_tokens,
       coalesce(sum(c.cost_micro_usd), 0) AS cost_micro_usd
FROM tasks AS t
JOIN llm_calls AS c ON c.task_id = t.id
WHERE t.tenant = %(tenant)s AND t.agent = %(agent)s
GROUP BY t.agent_version, c.provider, c.model
ORDER BY t.agent_version, c.provider, c.model;

-- name: llm_call_compare
-- A tenant's task and its replays side by side (the task first, then its replays oldest first):
-- each one's outcome and its model calls summed. `cost_micro_usd` is what the task spent; a
-- replay's reused calls cost it nothing and are counted in `reused`.
SELECT t.id, t.state, t.result, t.error, t.replay_of, t.replay_from_call, t.agent,
       t.agent_version, t.agent_overrides, t.created_at, t.finished_at,
       count(c.id) AS calls,
       count(c.id) FILTER (WHERE c.replay_of_call IS NOT NULL) AS reused,
       coalesce(sum(c.input_tokens), 0) AS input_tokens,
       coalesce(sum(c.output_tokens), 0) AS output_tokens,
       coalesce(sum(c.cost_micro_usd), 0) AS cost_micro_usd
FROM tasks AS t
LEFT JOIN llm_calls AS c ON c.task_id = t.id
WHERE t.tenant = %(tenant)s
  AND (t.id = %(task_id)s OR t.replay_of = %(task_id)s)
GROUP BY t.id
ORDER BY t.replay_of IS NOT NULL, t.created_at, t.id;
