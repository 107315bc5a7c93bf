-- Webhooks (db/webhook.py): a tenant's completion webhooks and their deliveries (ADR 0020). The
-- API reads and writes by tenant and never reads the secret back after webhook_insert; the
-- reaper's dispatcher (every tenant) turns task events into delivery tasks; the worker's
-- delivery reads the URL and secret by the delivery's task id.

-- name: webhook_insert
-- Make a webhook; a name the tenant already uses inserts nothing and returns no row. Its cursor
-- starts at the newest event: a webhook hears of what happens from now on. The secret is
-- returned this once (the API shows it to the caller and never again).
INSERT INTO webhooks (tenant, name, url, events, secret, allow_private, event_cursor, created_by)
VALUES (%(tenant)s, %(name)s, %(url)s, %(events)s, %(secret)s, %(allow_private)s,
        (SELECT coalesce(max(id), 0) FROM task_events), %(created_by)s)
ON CONFLICT (tenant, name) DO NOTHING
RETURNING id, tenant, name, url, events, allow_private, paused_at, created_at, created_by, secret;

-- name: webhook_get
-- One of the tenant's webhooks by name (another tenant's is no row), without its secret.
SELECT id, tenant, name, url, events, allow_private, paused_at, created_at, created_by
FROM webhooks WHERE tenant = %(tenant)s AND name = %(name)s;

-- name: webhook_list
-- The tenant's webhooks by name, without their secrets.
SELECT id, tenant, name, url, events, allow_private, paused_at, created_at, created_by
FROM webhooks WHERE tenant = %(tenant)s ORDER BY name;

-- name: webhook_recent
-- A webhook's newest deliveries with their task's state and attempts while the task is kept.
SELECT d.event_id, d.event_type, d.task_id, d.created_at, t.state, t.attempts
FROM webhook_deliveries AS d
JOIN webhooks AS w ON w.id = d.webhook_id
LEFT JOIN tasks AS t ON t.id = d.task_id AND t.tenant = d.tenant
WHERE w.tenant = %(tenant)s AND w.name = %(name)s
ORDER BY d.event_id DESC
LIMIT %(limit)s;

-- name: webhook_update
-- Change the URL, the event types or allow_private (a null keeps the value; the caller has
-- checked the URL and who may set allow_private). Deliveries not sent yet go to the new URL.
UPDATE webhooks
SET url = coalesce(%(url)s, url),
    events = coalesce(%(events)s, events),
    allow_private = coalesce(%(allow_private)s, allow_private)
WHERE tenant = %(tenant)s AND name = %(name)s
RETURNING id, tenant, name, url, events, allow_private, paused_at, created_at, created_by;

-- name: webhook_pause
-- Stop making deliveries; a paused webhook stays paused (a second pause matches no row).
UPDATE webhooks SET paused_at = clock_timestamp()
WHERE tenant = %(tenant)s AND name = %(name)s AND paused_at IS NULL
RETURNING id, tenant, name, url, events, allow_private, paused_at, created_at, created_by;

-- name: webhook_resume
-- Make deliveries again, of what happens from now on: the cursor moves to the newest event, so
-- the events of the pause are skipped (as a resumed schedule skips its missed slots).
UPDATE webhooks
SET paused_at = NULL, event_cursor = (SELECT coalesce(max(id), 0) FROM task_events)
WHERE tenant = %(tenant)s AND name = %(name)s AND paused_at IS NOT NULL
RETURNING id, tenant, name, url, events, allow_private, paused_at, created_at, created_by;

-- name: webhook_delete
-- Remove a webhook and its delivery keys; delivery tasks not sent yet find no webhook and end
-- without sending (worker/webhooks.py).
DELETE FROM webhooks WHERE tenant = %(tenant)s AND name = %(name)s RETURNING id;

-- name: webhook_dispatch
-- The outbox dispatcher (the reaper, every tenant): for each active webhook after `after` (a
-- page of `batch`, locked with SKIP LOCKED so a second reaper takes other webhooks or none),
-- read the next `scan` task events past its cursor, every tenant's, on the primary key. Only
-- events older than `settle_s` are read: an event id is taken at insert, not at commit, and an
-- id still uncommitted must not be passed by the cursor (the stream's gap rule, ADR 0015). The
-- cursor moves to the last id read; each event of the webhook's tenant whose transition is one
-- of its event types, on a task that is not itself a delivery, becomes a delivery key (webhook,
-- event) and a queued `outlast.webhook` task with its `submitted` event. The key is the second
-- guard: an event that has a key already (two reapers, a restart) makes nothing.
WITH hooks AS (
    SELECT id, tenant, name, events, event_cursor
    FROM webhooks
    WHERE paused_at IS NULL AND id > coalesce(%(after)s::uuid, '00000000-0000-0000-0000-000000000000')
    ORDER BY id
    LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
), scanned AS (
    SELECT h.id AS webhook_id, h.tenant AS hook_tenant, h.name AS hook_name, h.events, e.*
    FROM hooks AS h
    CROSS JOIN LATERAL (
        SELECT e.id, e.tenant, e.task_id, e.at, e.from_state, e.to_state, e.attempt, e.detail
        FROM task_events AS e
        WHERE e.id > h.event_cursor
          AND e.at <= clock_timestamp() - make_interval(secs => %(settle_s)s)
        ORDER BY e.id
        LIMIT %(scan)s
    ) AS e
), progress AS (
    SELECT webhook_id, max(id) AS last, count(*) AS n FROM scanned GROUP BY webhook_id
), moved AS (
    UPDATE webhooks AS w SET event_cursor = p.last
    FROM progress AS p
    WHERE w.id = p.webhook_id
    RETURNING w.id
), matched AS (
    SELECT s.webhook_id, s.hook_name, s.tenant, s.id AS event_id, s.task_id, s.at, s.from_state,
           s.to_state, s.attempt, s.detail, ty.type, t.graph, t.agent, gen_random_uuid() AS id
    FROM scanned AS s
    CROSS JOIN LATERAL (
        SELECT CASE s.to_state
            WHEN 'completed' THEN 'task.completed'
            WHEN 'failed' THEN 'task.failed'
            WHEN 'waiting_for_approval' THEN 'task.waiting'
            WHEN 'waiting_for_input' THEN 'task.waiting'
            WHEN 'paused' THEN 'task.budget_paused'
        END AS type
    ) AS ty
    JOIN tasks AS t ON t.id = s.task_id
    WHERE s.tenant = s.hook_tenant
      AND s.from_state IS DISTINCT FROM s.to_state
      AND ty.type = ANY (s.events)
      AND t.graph <> 'outlast.webhook'
), keyed AS (
    INSERT INTO webhook_deliveries (webhook_id, event_id, tenant, task_id, event_type)
    SELECT webhook_id, event_id, tenant, id, type FROM matched
    ON CONFLICT (webhook_id, event_id) DO NOTHING
    RETURNING *
), inserted AS (
    INSERT INTO tasks (id, tenant, graph, input, metadata, run_at, ready_at, max_attempts)
    SELECT m.id, m.tenant, 'outlast.webhook',
           jsonb_build_object(
               'webhook', m.hook_name,
               'payload', jsonb_build_object(
                   'id', m.id, 'type', m.type, 'created_at', m.at,
                   'data', jsonb_build_object(
                       'task_id', m.task_id, 'event_id', m.event_id, 'graph', m.graph,
                       'agent', m.agent, 'from_state', m.from_state, 'state', m.to_state,
                       'attempt', m.attempt, 'detail', m.detail))),
           jsonb_build_object('webhook', m.hook_name, 'event_id', m.event_id, 'event', m.type),
           now.t, now.t, %(max_attempts)s
    FROM keyed AS k
    JOIN matched AS m ON m.id = k.task_id
    CROSS JOIN (SELECT outlast_now() AS t) AS now
    RETURNING *
), events AS (
    INSERT INTO task_events (tenant, task_id, kind, to_state, detail)
    SELECT tenant, id, 'submitted', 'queued', jsonb_build_object('run_at', run_at,
           'webhook', metadata ->> 'webhook', 'event_id', metadata -> 'event_id')
    FROM inserted
)
SELECT (SELECT count(*) FROM hooks) AS hooks,
       (SELECT id FROM hooks ORDER BY id DESC LIMIT 1) AS last_hook,
       (SELECT count(*) FROM progress WHERE n >= %(scan)s) AS full_hooks,
       (SELECT count(*) FROM moved) AS moved,
       (SELECT count(*) FROM inserted) AS delivered,
       (SELECT pg_notify('outlast_tasks', 'submitted') WHERE EXISTS (SELECT FROM inserted))
           AS notified;

-- name: webhook_target
-- The worker, about to send a delivery: the webhook's URL, secret and allow_private, found by
-- the delivery's task id through its key (a task submitted as `outlast.webhook` by hand has no
-- key and finds nothing). Tenant-blind by task id, as every worker statement.
SELECT w.name, w.url, w.secret, w.allow_private
FROM webhook_deliveries AS d
JOIN webhooks AS w ON w.id = d.webhook_id
WHERE d.task_id = %(task_id)s;

-- name: webhook_prune
-- Forget delivery keys older than the retention whose delivery task retention already pruned:
-- the cursor is long past their event (the key only guards against a second dispatch while the
-- cursor could still stand before it), and without this the keys of a busy webhook would grow
-- forever. By the created_at index, oldest first, a batch at a time.
DELETE FROM webhook_deliveries AS d
USING (
    SELECT k.webhook_id, k.event_id
    FROM webhook_deliveries AS k
    WHERE k.created_at < outlast_now() - make_interval(secs => %(retention_s)s)
      AND NOT EXISTS (SELECT FROM tasks AS t WHERE t.id = k.task_id)
    ORDER BY k.created_at
    LIMIT %(batch)s
) AS old
WHERE d.webhook_id = old.webhook_id AND d.event_id = old.event_id
RETURNING d.event_id;
