-- Worker processes: one row per process start, kept fresh by the lease heartbeat.

-- name: worker_register
-- A worker process announces itself as it starts, with the graphs it can run (it claims only
-- those; GET /v1/graphs shows which live workers serve each graph).
INSERT INTO workers (id, hostname, pid, concurrency, graphs)
VALUES (%(worker_id)s, %(hostname)s, %(pid)s, %(concurrency)s, %(graphs)s::text[])
RETURNING *;

-- name: worker_set_state
-- A worker moves to stopping (SIGTERM received) or stopped (exited cleanly).
UPDATE workers
SET state = %(state)s,
    stopped_at = CASE WHEN %(state)s = 'stopped' THEN outlast_now() END,
    last_heartbeat_at = outlast_now()
WHERE id = %(worker_id)s
RETURNING *;

-- name: worker_list
-- Workers, newest first, keyset-paginated; optionally one state.
SELECT *
FROM workers
WHERE (%(state)s::text IS NULL OR state = %(state)s::text)
  AND (%(before_started_at)s::timestamptz IS NULL
       OR (started_at, id) < (%(before_started_at)s::timestamptz, %(before_id)s::uuid))
ORDER BY started_at DESC, id DESC
LIMIT %(limit)s;

-- name: graph_coverage
-- Every graph a live worker serves or a queued task names: how many running workers announced
-- it, and how many tasks of it are queued. A graph with queued tasks and no worker waits for a
-- worker that runs it (a rolling deploy, a worker started with other OUTLAST_GRAPHS). Counts
-- every queued task: an index-only read of tasks_ready when the visibility map allows.
WITH served AS (
    SELECT g.graph, count(*) AS workers
    FROM workers AS w CROSS JOIN LATERAL unnest(w.graphs) AS g (graph)
    WHERE w.state = 'running'
    GROUP BY g.graph
), queued AS (
    SELECT graph, count(*) AS queued
    FROM tasks
    WHERE state = 'queued'
    GROUP BY graph
)
SELECT graph, coalesce(s.workers, 0) AS workers, coalesce(q.queued, 0) AS queued
FROM served AS s FULL JOIN queued AS q USING (graph)
ORDER BY graph;
