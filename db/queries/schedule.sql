-- Schedules (db/schedule.py): cron schedules of a tenant and the slots they fired. The API
-- reads and writes by tenant; the reaper fires due slots of every tenant (tenant-blind).

-- name: schedule_clock
-- The database's clock (the test clock in tests): the API computes a schedule's first slot
-- from it, so a schedule made and fired under a moved clock agree on what "now" is.
SELECT outlast_now() AS now;

-- name: schedule_insert
-- Make a schedule; a name the tenant already uses, or a thread that is not the tenant's (the
-- caller checked; this makes it so), inserts nothing and returns no row.
INSERT INTO schedules (id, tenant, name, cron, timezone, catch_up, graph, agent, agent_version, input,
                       max_attempts, next_run_at, created_by, thread_id, metadata, payload,
                       end_time, paused_at)
SELECT coalesce(%(id)s::uuid, gen_random_uuid()), %(tenant)s, %(name)s, %(cron)s, %(timezone)s, %(catch_up)s, %(graph)s, %(agent)s,
       %(agent_version)s, %(input)s, %(max_attempts)s, %(next_run_at)s, %(created_by)s,
       %(thread_id)s::uuid, %(metadata)s, %(payload)s, %(end_time)s,
       CASE WHEN %(paused)s THEN outlast_now() END
WHERE %(thread_id)s::uuid IS NULL
   OR EXISTS (SELECT FROM threads WHERE id = %(thread_id)s::uuid AND tenant = %(tenant)s)
ON CONFLICT (tenant, name) DO NOTHING
RETURNING *, outlast_now() AS now;

-- name: schedule_get
-- One of the tenant's schedules by name (another tenant's is no row), with the clock.
SELECT *, outlast_now() AS now FROM schedules WHERE tenant = %(tenant)s AND name = %(name)s;

-- name: schedule_list
-- The tenant's schedules by name.
SELECT *, outlast_now() AS now FROM schedules WHERE tenant = %(tenant)s ORDER BY name;

-- name: schedule_tasks
-- The tasks a schedule submitted, newest slot first, with each task's state while it is kept.
SELECT sl.slot_at, sl.task_id, sl.fired_at, t.state
FROM schedule_slots AS sl
JOIN schedules AS s ON s.id = sl.schedule_id
LEFT JOIN tasks AS t ON t.id = sl.task_id AND t.tenant = sl.tenant
WHERE s.tenant = %(tenant)s AND s.name = %(name)s
ORDER BY sl.slot_at DESC
LIMIT %(limit)s;

-- name: schedule_pause
-- Stop firing; a paused schedule stays paused (the guard makes a second pause a no-op row).
UPDATE schedules SET paused_at = outlast_now(), updated_at = outlast_now()
WHERE tenant = %(tenant)s AND name = %(name)s AND paused_at IS NULL
RETURNING *, outlast_now() AS now;

-- name: schedule_resume
-- Fire again from `next_run_at`, the first slot after the resume (computed by the caller from
-- schedule_get's clock): the slots that fell while it was paused are skipped, not caught up.
UPDATE schedules SET paused_at = NULL, next_run_at = %(next_run_at)s, updated_at = outlast_now()
WHERE tenant = %(tenant)s AND name = %(name)s AND paused_at IS NOT NULL
RETURNING *, outlast_now() AS now;

-- name: schedule_delete
-- Remove a schedule and its slot rows; the tasks it submitted stay.
DELETE FROM schedules WHERE tenant = %(tenant)s AND name = %(name)s RETURNING id;

-- name: schedule_due
-- Active schedules whose next slot has come, oldest first (the reaper, every tenant), but not
-- past their end time. No lock: schedule_fire guards on the `next_run_at` read here, so a second
-- reaper's fire is a no-op.
SELECT *, outlast_now() AS now
FROM schedules
WHERE paused_at IS NULL AND next_run_at <= outlast_now()
  AND (end_time IS NULL OR next_run_at <= end_time)
ORDER BY next_run_at
LIMIT %(batch)s;

-- name: schedule_fire
-- Fire a schedule's due slots in one statement: move `next_run_at` on, guarded on the value
-- the caller read (a concurrent fire, pause or resume makes this match no row, and then nothing
-- else happens), insert one slot row per slot, and submit one task per slot row inserted, with
-- its `submitted` event. The slot's key (schedule, slot time) is the second guard: a slot that
-- has a row already inserts nothing and submits nothing. The UPDATE's row lock makes a second
-- reaper wait for the first to commit, and then it sees the moved `next_run_at`. Slots after
-- the schedule's end time are not fired; a cron's tasks go on its thread (queued behind the
-- thread's runs, ADR 0018) with its metadata.
WITH claimed AS (
    UPDATE schedules
    SET next_run_at = %(next_run_at)s
    WHERE id = %(schedule_id)s AND next_run_at = %(expected)s AND paused_at IS NULL
    RETURNING *
), slots AS (
    INSERT INTO schedule_slots (schedule_id, slot_at, tenant, task_id)
    SELECT c.id, s.at, c.tenant, gen_random_uuid()
    FROM claimed AS c CROSS JOIN unnest(%(slots)s::timestamptz[]) AS s (at)
    WHERE c.end_time IS NULL OR s.at <= c.end_time
    ON CONFLICT (schedule_id, slot_at) DO NOTHING
    RETURNING *
), inserted AS (
    INSERT INTO tasks (id, tenant, graph, agent, agent_version, input, metadata, run_at,
                       ready_at, max_attempts, thread_id)
    SELECT sl.task_id, c.tenant, c.graph, c.agent, c.agent_version, c.input,
           c.metadata || jsonb_build_object('schedule', c.name, 'slot', sl.slot_at), now.t, now.t,
           c.max_attempts, c.thread_id
    FROM slots AS sl
    JOIN claimed AS c ON c.id = sl.schedule_id
    CROSS JOIN (SELECT outlast_now() AS t) AS now
    RETURNING *
), events AS (
    INSERT INTO task_events (tenant, task_id, kind, to_state, detail)
    SELECT tenant, id, 'submitted', 'queued', jsonb_build_object('run_at', run_at,
           'schedule', metadata ->> 'schedule', 'slot', metadata ->> 'slot')
    FROM inserted
)
SELECT (SELECT count(*) FROM claimed) AS claimed,
       (SELECT count(*) FROM inserted) AS fired,
       (SELECT pg_notify('outlast_tasks', 'submitted') WHERE EXISTS (SELECT FROM inserted))
           AS notified;

-- name: schedule_search
-- The tenant's schedules a LangGraph cron search asks for (each filter NULL: any), oldest
-- first; the caller sorts and pages (a tenant's schedules are listed whole, as schedule_list).
SELECT *, outlast_now() AS now
FROM schedules
WHERE tenant = %(tenant)s
  AND (%(assistant_id)s::text IS NULL OR coalesce(agent, graph) = %(assistant_id)s)
  AND (%(thread_id)s::uuid IS NULL OR thread_id = %(thread_id)s::uuid)
  AND (%(enabled)s::boolean IS NULL OR (paused_at IS NULL) = %(enabled)s)
  AND metadata @> %(metadata)s
ORDER BY created_at, id;

-- name: schedule_get_by_id
-- One of the tenant's schedules by id (a LangGraph cron id), with the clock.
SELECT *, outlast_now() AS now FROM schedules WHERE tenant = %(tenant)s AND id = %(id)s;

-- name: schedule_update
-- A LangGraph cron update: the fields the caller merged into the row it read, written only if
-- the row is still as read (`updated_at` unchanged): a concurrent change matches no row (409).
UPDATE schedules
SET cron = %(cron)s, timezone = %(timezone)s, input = %(input)s, metadata = %(metadata)s,
    payload = %(payload)s, end_time = %(end_time)s, next_run_at = %(next_run_at)s,
    paused_at = CASE WHEN NOT %(enabled)s THEN coalesce(paused_at, outlast_now()) END,
    updated_at = outlast_now()
WHERE tenant = %(tenant)s AND id = %(id)s AND updated_at = %(expected)s
RETURNING *, outlast_now() AS now;

-- name: schedule_delete_by_id
-- Remove a schedule by id (a LangGraph cron) and its slot rows; the tasks it submitted stay.
DELETE FROM schedules WHERE tenant = %(tenant)s AND id = %(id)s RETURNING id;
