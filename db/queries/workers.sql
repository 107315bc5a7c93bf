-- Worker processes: one row per process start, kept fresh by the lease heartbeat.

-- name: workers_register
-- A worker process announces itself as it starts, with the graphs it can run (it claims only
-- those; GET /v1/graphs shows which live workers serve each graph).
INSERT INTO workers (id, hostname, pid, concurrency, graphs)
VALUES (%(worker_id)s, %(hostname)s, %(pid)s, %(concurrency)s, %(graphs)s::text[])
RETURNING *;

-- name: workers_set_state
-- A worker moves to stopping (SIGTERM received) or stopped (exited cleanly).
UPDATE workers
SET state = %(state)s,
    stopped_at = CASE WHEN %(state)s = 'stopped' THEN outlast_now() END,
    last_heartbeat_at = outlast_now()
WHERE id = %(worker_id)s
RETURNING *;

-- name: workers_list
-- Workers, newest first, keyset-paginated; optionally one state. Workers serve every tenant;
-- each comes with how many of the caller's tenant's tasks it holds now (one pass over the
-- running tasks, through tasks_running), never with another tenant's.
WITH held AS (
    SELECT worker_id, count(*) AS tasks
    FROM tasks
    WHERE state = 'running' AND tenant = %(tenant)s
    GROUP BY worker_id
)
SELECT w.*, coalesce(held.tasks, 0) AS running_tasks
FROM workers AS w
LEFT JOIN held ON held.worker_id = w.id
WHERE (%(state)s::text IS NULL OR w.state = %(state)s::text)
  AND (%(before_started_at)s::timestamptz IS NULL
       OR (w.started_at, w.id) < (%(before_started_at)s::timestamptz, %(before_id)s::uuid))
ORDER BY w.started_at DESC, w.id DESC
LIMIT %(limit)s;

-- name: workers_graph_coverage
-- Every graph a live worker serves or a queued task names: how many running workers announced
-- it, and how many of the tenant's tasks of it are queued (workers serve every tenant). A graph with queued tasks and no worker waits for a
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
    WHERE state = 'queued' AND tenant = %(tenant)s
    GROUP BY graph
)
SELECT graph, coalesce(s.workers, 0) AS workers, coalesce(q.queued, 0) AS queued
FROM served AS s FULL JOIN queued AS q USING (graph)
ORDER BY graph;

-- name: workers_mark_lost
-- Workers silent for longer than :stale_s are marked lost (their leases expire on their own).
-- A lost worker that comes back sets itself running again on its next heartbeat.
UPDATE workers AS w
SET state = 'lost'
FROM (
    SELECT id FROM workers
    WHERE state IN ('running', 'stopping')
      AND last_heartbeat_at < outlast_now() - make_interval(secs => %(stale_s)s)
    ORDER BY id
    LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
) AS stale
WHERE w.id = stale.id
RETURNING w.id;

-- name: workers_sessions_end
-- End the sessions of silent workers that still hold a transaction open (ADR 0008). A worker
-- frozen (SIGSTOP, a paused VM) between sending a pipelined checkpoint write and its Sync keeps
-- that write's locks (the task row's share lock, the unique-index entries of its rows) for as
-- long as its connection lives, and a stopped process's kernel still answers TCP keepalives:
-- the reaper skips the locked task row, or the next owner waits on the locks forever while it
-- heartbeats. No server setting ends such a transaction before PostgreSQL 17's
-- transaction_timeout (the backend waits for the rest of the pipeline, so it is not idle in
-- transaction). A worker is silent when it holds a lease that has expired (its heartbeat extends
-- all its leases at once, and it fences itself at 80 %% of the TTL) or when it is marked lost;
-- only a transaction opened before it fell silent (before the lease ran out, or stale_s ago) is
-- ended. Ended, the transaction rolls back, which the fence makes harmless. Sessions are found by
-- the worker id in their application_name (db.workers.application_name); only those of a role
-- the reaper may signal (the same role, or a superuser reaper) are candidates. Each termination
-- waits up to a second, so the same pass can then take the task back.
WITH silent AS (
    SELECT worker_id AS id, lease_expires_at AS since
    FROM tasks
    WHERE state = 'running' AND lease_expires_at <= outlast_now() AND worker_id IS NOT NULL
    UNION ALL
    SELECT id, outlast_now() - make_interval(secs => %(stale_s)s)
    FROM workers
    WHERE state = 'lost'
)
SELECT a.pid, s.id AS worker_id, pg_terminate_backend(a.pid, 1000) AS ended
FROM pg_stat_activity AS a
JOIN (SELECT id, max(since) AS since FROM silent GROUP BY id) AS s
  ON a.application_name = %(session_prefix)s || s.id::text
WHERE a.xact_start < s.since
  AND a.pid <> pg_backend_pid()
  AND pg_has_role(a.usesysid, 'MEMBER');

-- name: workers_prune_stopped
-- Forget worker rows that stopped (or were lost) longer ago than the retention.
DELETE FROM workers
WHERE id IN (
    SELECT id FROM workers
    WHERE state IN ('stopped', 'lost')
      AND last_heartbeat_at < outlast_now() - make_interval(secs => %(retention_s)s)
    LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
)
RETURNING id;
