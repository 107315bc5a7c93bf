-- Schedules (db/schedule.py): cron schedules of a tenant and the slots they fired. The API
-- reads and writes by tenant; the reaper fires due slots of every tenant (tenant-blind).

-- name: schedule_clock
-- The database's clock (the test clock in tests): the API computes a schedule's first slot
-- from it, so a schedule made and fired under a moved clock agree on what "now" is.
SELECT outlast_now() AS now;

-- name: schedule_insert
-- Make a schedule; a name the tenant already uses inserts nothing and returns no row.
INSERT INTO schedules (tenant, name, cron, timezone, catch_up, graph, agent, agent_version, input,
                       max_attempts, next_run_at, created_by)
VALUES (%(tenant)s, %(name)s, %(cron)s, %(timezone)s, %(catch_up)s, %(graph)s, %(agent)s,
        %(agent_version)s, %(input)s, %(max_attempts)s, %(next_run_at)s, %(created_by)s)
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
UPDATE schedules SET paused_at = outlast_now()
WHERE tenant = %(tenant)s AND name = %(name)s AND paused_at IS NULL
RETURNING *, outlast_now() AS now;

-- name: schedule_resume
-- Fire again from `next_run_at`, the first slot after the resume (computed by the caller from
-- schedule_get's clock): the slots that fell while it was paused are skipped, not caught up.
UPDATE schedules SET paused_at = NULL, next_run_at = %(next_run_at)s
WHERE tenant = %(tenant)s AND name = %(name)s AND paused_at IS NOT NULL
RETURNING *, outlast_now() AS now;

-- name: schedule_delete
-- Remove a schedule and its slot rows; the tasks it submitted stay.
DELETE FROM schedules WHERE tenant = %(tenant)s AND name = %(name)s RETURNING id;

-- name: schedule_due
-- Active schedules whose next slot has come, oldest first (the reaper, every tenant). No lock:
-- schedule_fire guards on the `next_run_at` read here, so a second reaper's fire is a no-op.
SELECT *, outlast_now() AS now
FROM schedules
WHERE paused_at IS NULL AND next_run_at <= outlast_now()
ORDER BY next_run_at
LIMIT %(batch)s;

-- name: schedule_fire
-- Fire a schedule's due slots in one statement: move `next_run_at` on, guarded on the value
-- the caller read (a concurrent fire, pause or resume makes this match no row, and then nothing
-- else happens), insert one slot row per slot, and submit one task per slot row inserted, with
-- its `submitted` event. The slot's key (schedule, slot time) is the second guard: a slot that
-- has a row already inserts nothing and submits nothing. The UPDATE's row lock makes a second
-- reaper wait for the first to commit, and then it sees the moved `next_run_at`.
WITH claimed AS (
    UPDATE schedules
    SET next_run_at = %(next_run_at)s
    WHERE id = %(schedule_id)s AND next_run_at = %(expected)s AND paused_at IS NULL
    RETURNING *
), slots AS (
    INSERT INTO schedule_slots (schedule_id, slot_at, tenant, task_id)
    SELECT c.id, s.at, c.tenant, gen_random_uuid()
    FROM claimed AS c CROSS JOIN unnest(%(slots)s::timestamptz[]) AS s (at)
    ON CONFLICT (schedule_id, slot_at) DO NOTHING
    RETURNING *
), inserted AS (
    INSERT INTO tasks (id, tenant, graph, agent, agent_version, input, metadata, run_at,
                       ready_at, max_attempts)
    SELECT sl.task_id, c.tenant, c.graph, c.agent, c.agent_version, c.input,
           jsonb_build_object('schedule', c.name, 'slot', sl.slot_at), now.t, now.t, c.max_attempts
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
