-- Worker processes: one row per process start, kept fresh by the lease heartbeat.

-- name: worker_register
-- A worker process announces itself as it starts.
INSERT INTO workers (id, hostname, pid, concurrency)
VALUES (%(worker_id)s, %(hostname)s, %(pid)s, %(concurrency)s)
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
