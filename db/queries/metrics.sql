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
