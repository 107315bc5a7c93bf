-- Event streams (GET /v1/stream, GET /v1/tasks/{id}/stream): a stream is an offset into
-- task_events, an event's id is its row id, and a reconnect is `id > Last-Event-ID` (ADR 0015).

-- name: stream_head
-- The newest event id: where a stream that names no Last-Event-ID starts (only what happens
-- from now on). Tenant-blind on purpose: an offset is a position in the one id sequence.
SELECT coalesce(max(id), 0) AS id FROM task_events;

-- name: stream_ids
-- The event ids after an offset, every tenant's, ids only (the primary key's index alone): the
-- stream finds the gaps of transactions that took an id and have not committed yet, and reads
-- no further than the first young gap (api/streams.py says why). Ids more than `window` below
-- the newest are settled: a stream far behind (a task's stream from its first event, a client
-- back after an hour) skips the gap walk over them instead of reading every id since.
WITH head AS (SELECT coalesce(max(id), 0) AS id FROM task_events),
base AS (SELECT greatest(%(after)s, head.id - %(window)s) AS id FROM head)
SELECT base.id AS base,
       array(SELECT e.id FROM task_events e WHERE e.id > base.id ORDER BY e.id
             LIMIT %(limit)s) AS ids
FROM base;

-- name: stream_tenant
-- A tenant's task events in (after, upto], oldest first, with each task's graph, agent and
-- current state; filtered by the state an event moved to, the graph or the agent.
SELECT e.id, e.task_id, e.at, e.kind, e.from_state, e.to_state, e.lease_epoch, e.worker_id,
       e.attempt, e.detail, t.graph, t.agent, t.state
FROM task_events e
LEFT JOIN tasks t ON t.id = e.task_id
WHERE e.tenant = %(tenant)s AND e.id > %(after)s AND e.id <= %(upto)s
  AND (%(state)s::text IS NULL OR e.to_state = %(state)s)
  AND (%(graph)s::text IS NULL OR t.graph = %(graph)s)
  AND (%(agent)s::text IS NULL OR t.agent = %(agent)s)
ORDER BY e.id
LIMIT %(limit)s;

-- name: stream_task
-- One task's events in (after, upto], oldest first (the task_events_task index). The tenant
-- guard makes another tenant's task read as no events; the route answers 404 before this.
SELECT e.id, e.task_id, e.at, e.kind, e.from_state, e.to_state, e.lease_epoch, e.worker_id,
       e.attempt, e.detail
FROM task_events e
WHERE e.task_id = %(task_id)s AND e.tenant = %(tenant)s
  AND e.id > %(after)s AND e.id <= %(upto)s
ORDER BY e.id
LIMIT %(limit)s;

-- name: stream_task_exists
-- Whether the tenant owns the task: another tenant's task is a 404, like an unknown one.
SELECT id, state FROM tasks WHERE id = %(task_id)s AND tenant = %(tenant)s;
