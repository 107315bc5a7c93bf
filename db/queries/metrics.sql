-- Numbers for GET /metrics. Each part is a count over a small index (tasks_state_created,
-- tasks_ready, task_waits_open); a scrape every 15-30 s costs little even with millions of rows.

-- name: metrics_snapshot
-- Tasks per state, ready-queue depth and age, open dead letters, open waits, workers per state.
-- The task figures are one tenant's, or every tenant's when :tenant is NULL (the operator's
-- view, api/routes/metrics.py); workers serve every tenant and are counted once.
SELECT
    (SELECT coalesce(jsonb_object_agg(state, n), '{}'::jsonb)
     FROM (SELECT state, count(*) AS n FROM tasks
           WHERE %(tenant)s::text IS NULL OR tenant = %(tenant)s::text
           GROUP BY state) AS s) AS tasks_by_state,
    (SELECT count(*) FROM tasks
     WHERE state = 'queued' AND run_at <= outlast_now()
       AND (%(tenant)s::text IS NULL OR tenant = %(tenant)s::text)) AS ready,
    (SELECT coalesce(extract(epoch FROM outlast_now() - min(run_at)), 0)::float8 FROM tasks
     WHERE state = 'queued' AND run_at <= outlast_now()
       AND (%(tenant)s::text IS NULL OR tenant = %(tenant)s::text)) AS oldest_ready_age_s,
    (SELECT count(*) FROM dead_letters
     WHERE redriven_at IS NULL AND resolved_at IS NULL
       AND (%(tenant)s::text IS NULL OR tenant = %(tenant)s::text)) AS dead_letters_open,
    (SELECT coalesce(jsonb_object_agg(kind, n), '{}'::jsonb)
     FROM (SELECT kind, count(*) AS n FROM task_waits
           WHERE decided_at IS NULL
             AND (%(tenant)s::text IS NULL OR tenant = %(tenant)s::text)
           GROUP BY kind) AS w) AS waits_open,
    (SELECT coalesce(jsonb_object_agg(state, n), '{}'::jsonb)
     FROM (SELECT state, count(*) AS n FROM workers GROUP BY state) AS x) AS workers_by_state;

-- name: metrics_model_usage
-- The scraping key's tenant's model calls, tokens and cost summed per agent, provider and model
-- (every tenant's when :tenant is NULL, the operator's view, as metrics_snapshot),
-- over the journal (llm_calls) as it stands: counters that only grow until retention prunes
-- finished tasks. A scan of the tenant's calls at every scrape: fine every 15-30 s up to
-- millions of calls.
SELECT t.tenant,
       coalesce(t.agent, '') AS agent,
       coalesce(c.provider, '') AS provider,
       coalesce(c.model, '') AS model,
       count(*) AS calls,
       coalesce(sum(c.input_tokens), 0) AS input_tokens,
       coalesce(sum(c.output_tokens), 0) AS output_tokens,
       coalesce(sum(c.cache_read_tokens), 0) AS cache_read_tokens,
       coalesce(sum(c.cache_write_tokens), 0) AS cache_write_tokens,
       coalesce(sum(c.cost_micro_usd), 0) AS cost_micro_usd
FROM llm_calls AS c
JOIN tasks AS t ON t.id = c.task_id
WHERE %(tenant)s::text IS NULL OR t.tenant = %(tenant)s::text
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 3, 4;

-- name: metrics_cost_hourly
-- The console's cost chart: the tenant's model calls finished in the last :hours hours, summed
-- per hour and agent ('' for graph tasks). llm_calls_finished (tenant, finished_at) bounds the
-- scan to the window; the join reads each call's task by primary key for its agent.
SELECT date_trunc('hour', c.finished_at) AS hour,
       coalesce(t.agent, '') AS agent,
       count(*) AS calls,
       coalesce(sum(c.cost_micro_usd), 0)::bigint AS cost_micro_usd
FROM llm_calls c
LEFT JOIN tasks t ON t.id = c.task_id
WHERE c.tenant = %(tenant)s
  AND c.finished_at >= date_trunc('hour', outlast_now()) - make_interval(hours => %(hours)s - 1)
GROUP BY 1, 2
ORDER BY 1, 2;
