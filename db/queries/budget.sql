-- Budgets (tables budget_windows, budget_reservations, tenant_budgets; view budget_applicable):
-- a model call's worst-case cost is reserved on every window that applies to its task before
-- the call, and settled to the real cost in the transaction that journals the response. A task
-- whose call does not fit is paused (`paused`, reason `budget`) before the call, its lease
-- released. Window rows are locked in key order everywhere, so two statements that touch the
-- same windows queue instead of deadlocking.

-- name: budget_reserve
-- Reserve :amount micro-USD for one call of task :task_id on every window that applies to it
-- (budget_applicable: the task's own, its agent's hour, its tenant's day), all or none, fenced.
-- The window rows are locked FOR UPDATE and then checked: a concurrent reserver waits for the
-- lock and then sees this one's reservation, so reservers can never together pass a limit.
-- Outcome: 'unlimited' (no budget applies; nothing written), 'reserved' (reservation_id),
-- 'open' (a window row is missing: run budget_open, then this again; nothing written), or
-- 'paused': the call does not fit, and the task leaves `running` here, before the call: paused
-- with the window that refused it in `pause` (its attempt given back: it did not fail), or
-- cancelled if its cancel was requested. No row: the lease is lost.
WITH fence AS (
    SELECT id, tenant, worker_id, lease_epoch
    FROM tasks
    WHERE id = %(task_id)s
      -- fence:begin
      AND lease_epoch = %(epoch)s
      AND state = 'running'
      AND lease_expires_at > outlast_now()
      -- fence:end
    FOR SHARE
), applicable AS (
    SELECT a.*
    FROM budget_applicable AS a
    JOIN fence ON fence.id = a.task_id
), locked AS (
    SELECT w.*
    FROM budget_windows AS w
    WHERE (w.tenant, w.scope, w.subject, w.window_start) IN (
        SELECT tenant, scope, subject, window_start FROM applicable
    )
    ORDER BY w.tenant, w.scope, w.subject, w.window_start
    FOR UPDATE
), measured AS (
    -- An agent's rolling hour sums its charges of the last 3600 s, read after its row is locked
    -- (outlast_budget_spent takes a fresh snapshot), so a settle that held the lock is counted.
    SELECT a.tenant, a.scope, a.subject, a.window_start, a.window_end, a.limit_micro_usd,
           l.tenant IS NOT NULL AS present,
           outlast_budget_spent(a.tenant, a.scope, a.subject, coalesce(l.spent_micro_usd, 0))
               AS spent_micro_usd,
           coalesce(l.reserved_micro_usd, 0) AS reserved_micro_usd
    FROM applicable AS a
    LEFT JOIN locked AS l
           ON (l.tenant, l.scope, l.subject, l.window_start)
            = (a.tenant, a.scope, a.subject, a.window_start)
), checked AS (
    SELECT m.*, m.spent_micro_usd + m.reserved_micro_usd + %(amount)s <= m.limit_micro_usd AS fits
    FROM measured AS m
), verdict AS (
    SELECT CASE WHEN count(*) = 0 THEN 'unlimited'
                WHEN bool_or(NOT present) THEN 'open'
                WHEN bool_and(fits) THEN 'reserved'
                ELSE 'paused' END AS outcome
    FROM checked
), held AS (
    UPDATE budget_windows AS w
    SET reserved_micro_usd = w.reserved_micro_usd + %(amount)s
    FROM locked AS l, verdict AS v
    WHERE v.outcome = 'reserved'
      AND (w.tenant, w.scope, w.subject, w.window_start)
        = (l.tenant, l.scope, l.subject, l.window_start)
    RETURNING w.scope
), reservation AS (
    INSERT INTO budget_reservations (tenant, task_id, lease_epoch, amount_micro_usd, windows)
    SELECT f.tenant, f.id, f.lease_epoch, %(amount)s,
           (SELECT jsonb_agg(jsonb_build_array(c.scope, c.subject, c.window_start)) FROM checked AS c)
    FROM fence AS f, verdict AS v
    WHERE v.outcome = 'reserved'
    RETURNING id
), refused AS (
    -- The window to report: the task's own first (only a raise helps), then the longer one.
    SELECT c.*
    FROM checked AS c, verdict AS v
    WHERE v.outcome = 'paused' AND NOT c.fits
    ORDER BY CASE c.scope WHEN 'task' THEN 0 WHEN 'tenant_day' THEN 1 ELSE 2 END
    LIMIT 1
), paused AS (
    UPDATE tasks AS t
    SET state = CASE WHEN t.cancel_requested THEN 'cancelled' ELSE 'paused' END,
        pause = CASE WHEN t.cancel_requested THEN NULL
                     ELSE jsonb_build_object(
                         'reason', 'budget', 'scope', r.scope, 'subject', r.subject,
                         -- null for the task's own window, which is its whole life; an
                         -- agent's rolling hour: the 3600 s up to now
                         'window_start', CASE WHEN r.scope = 'agent_hour'
                                              THEN outlast_now() - interval '3600 seconds'
                                              WHEN isfinite(r.window_start)
                                              THEN r.window_start END,
                         'window_end', CASE WHEN r.scope = 'agent_hour' THEN outlast_now()
                                            WHEN isfinite(r.window_end) THEN r.window_end END,
                         'limit_micro_usd', r.limit_micro_usd,
                         'spent_micro_usd', r.spent_micro_usd,
                         'reserved_micro_usd', r.reserved_micro_usd,
                         'needed_micro_usd', %(amount)s::bigint) END,
        attempts = CASE WHEN t.cancel_requested THEN t.attempts ELSE t.attempts - 1 END,
        worker_id = NULL,
        lease_expires_at = NULL,
        finished_at = CASE WHEN t.cancel_requested THEN outlast_now() END,
        updated_at = outlast_now()
    FROM fence AS f, refused AS r
    WHERE t.id = f.id
    RETURNING t.id, t.tenant, t.state, t.lease_epoch, t.attempts, t.pause
), events AS (
    INSERT INTO task_events (tenant, task_id, kind, from_state, to_state, lease_epoch, worker_id,
                             attempt, detail)
    SELECT p.tenant, p.id, p.state, 'running', p.state, p.lease_epoch, f.worker_id,
           CASE p.state WHEN 'paused' THEN p.attempts + 1 ELSE p.attempts END,
           CASE p.state WHEN 'paused' THEN p.pause
                ELSE jsonb_build_object('after', 'budget') END
    FROM paused AS p, fence AS f
)
SELECT v.outcome, (SELECT id FROM reservation) AS reservation_id,
       (SELECT state FROM paused) AS state, (SELECT pause FROM paused) AS pause
FROM fence, verdict AS v;

-- name: budget_applies
-- Whether any budget applies to task :task_id (its own, its agent's hour, its tenant's day): a
-- call to a model whose price is unknown is refused when one does (ADR 0023). Worker: by task id.
SELECT EXISTS (SELECT FROM budget_applicable WHERE task_id = %(task_id)s) AS applies;

-- name: budget_open
-- Make the window rows that apply to task :task_id and do not exist yet (a new task, hour or
-- day), at zero, so budget_reserve has rows to lock. Idempotent; creates no spend.
INSERT INTO budget_windows (tenant, scope, subject, window_start)
SELECT tenant, scope, subject, window_start
FROM budget_applicable
WHERE task_id = %(task_id)s
ON CONFLICT DO NOTHING;

-- name: budget_settle
-- After a call: settle reservation :reservation_id of task :task_id to the call's real cost
-- (:cost_micro_usd; 0 for a failed call, which the provider did not bill, or a reused one).
-- Run in the transaction of llm_call_finish, after it, so the spend and the journal row commit
-- together or not at all (a lost lease leaves the reservation to budget_expire).
WITH gone AS (
    DELETE FROM budget_reservations
    WHERE id = %(reservation_id)s AND task_id = %(task_id)s
    RETURNING tenant, amount_micro_usd, windows
), keys AS (
    SELECT g.tenant, k ->> 0 AS scope, k ->> 1 AS subject, (k ->> 2)::timestamptz AS window_start,
           g.amount_micro_usd
    FROM gone AS g, jsonb_array_elements(g.windows) AS k
), locked AS (
    SELECT w.tenant, w.scope, w.subject, w.window_start, keys.amount_micro_usd
    FROM budget_windows AS w
    JOIN keys ON (keys.tenant, keys.scope, keys.subject, keys.window_start)
               = (w.tenant, w.scope, w.subject, w.window_start)
    ORDER BY w.tenant, w.scope, w.subject, w.window_start
    FOR UPDATE OF w
), charged AS (
    -- An agent's rolling hour counts the charge for the next 3600 s.
    INSERT INTO budget_spend (tenant, scope, subject, charged_at, amount_micro_usd)
    SELECT l.tenant, l.scope, l.subject, outlast_now(), %(cost_micro_usd)s
    FROM locked AS l
    WHERE l.scope = 'agent_hour' AND %(cost_micro_usd)s > 0
)
UPDATE budget_windows AS w
SET reserved_micro_usd = w.reserved_micro_usd - l.amount_micro_usd,
    spent_micro_usd = w.spent_micro_usd + %(cost_micro_usd)s
FROM locked AS l
WHERE (w.tenant, w.scope, w.subject, w.window_start) = (l.tenant, l.scope, l.subject, l.window_start)
RETURNING w.scope;

-- name: budget_expire
-- The reaper: reservations whose lease is gone (the task is no longer running under the epoch
-- that reserved; the worker died, froze or lost the lease between reserve and settle) are
-- charged at their worst case: the call may have reached the provider and been billed, and a
-- budget must not be overspent on a guess. Amounts are summed per window first (an UPDATE
-- applies one change per row). SKIP LOCKED: a settle in flight holds its reservation.
WITH lost AS (
    SELECT r.id
    FROM budget_reservations AS r
    WHERE NOT EXISTS (
        SELECT FROM tasks AS t
        WHERE t.id = r.task_id AND t.state = 'running' AND t.lease_epoch = r.lease_epoch
    )
    ORDER BY r.id
    LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
), gone AS (
    DELETE FROM budget_reservations AS r
    USING lost
    WHERE r.id = lost.id
    RETURNING r.tenant, r.amount_micro_usd, r.windows
), sums AS (
    SELECT g.tenant, k ->> 0 AS scope, k ->> 1 AS subject, (k ->> 2)::timestamptz AS window_start,
           sum(g.amount_micro_usd)::bigint AS amount_micro_usd
    FROM gone AS g, jsonb_array_elements(g.windows) AS k
    GROUP BY 1, 2, 3, 4
), locked AS (
    SELECT w.tenant, w.scope, w.subject, w.window_start, s.amount_micro_usd
    FROM budget_windows AS w
    JOIN sums AS s ON (s.tenant, s.scope, s.subject, s.window_start)
                    = (w.tenant, w.scope, w.subject, w.window_start)
    ORDER BY w.tenant, w.scope, w.subject, w.window_start
    FOR UPDATE OF w
), charged AS (
    UPDATE budget_windows AS w
    SET reserved_micro_usd = w.reserved_micro_usd - l.amount_micro_usd,
        spent_micro_usd = w.spent_micro_usd + l.amount_micro_usd
    FROM locked AS l
    WHERE (w.tenant, w.scope, w.subject, w.window_start)
        = (l.tenant, l.scope, l.subject, l.window_start)
), hour_charged AS (
    INSERT INTO budget_spend (tenant, scope, subject, charged_at, amount_micro_usd)
    SELECT l.tenant, l.scope, l.subject, outlast_now(), l.amount_micro_usd
    FROM locked AS l
    WHERE l.scope = 'agent_hour' AND l.amount_micro_usd > 0
)
SELECT count(*) AS expired FROM gone;

-- name: budget_resume
-- POST /v1/tasks/{id}/resume: queue tenant :tenant's paused task :task_id again if the call it
-- paused on now fits every window that applies (a raised budget, a new hour or day). The task
-- row is locked first, so a resume and a cancel or a second resume do not interleave. Answers
-- the task's state before, whether it was resumed, and the windows still over (no row: no
-- such task of this tenant).
WITH task AS (
    SELECT id, tenant, state, pause
    FROM tasks
    WHERE id = %(task_id)s AND tenant = %(tenant)s
    FOR UPDATE
), measured AS (
    SELECT a.scope, a.subject, a.window_end, a.limit_micro_usd,
           outlast_budget_spent(a.tenant, a.scope, a.subject, coalesce(w.spent_micro_usd, 0))
               AS spent_micro_usd,
           coalesce(w.reserved_micro_usd, 0) AS reserved_micro_usd,
           coalesce((task.pause ->> 'needed_micro_usd')::bigint, 0) AS needed_micro_usd
    FROM task
    JOIN budget_applicable AS a ON a.task_id = task.id
    LEFT JOIN budget_windows AS w
           ON (w.tenant, w.scope, w.subject, w.window_start)
            = (a.tenant, a.scope, a.subject, a.window_start)
), checked AS (
    SELECT m.scope, m.subject,
           CASE WHEN isfinite(m.window_end) THEN m.window_end END AS window_end,
           m.limit_micro_usd, m.spent_micro_usd, m.reserved_micro_usd,
           m.spent_micro_usd + m.reserved_micro_usd + m.needed_micro_usd
               <= m.limit_micro_usd AS fits
    FROM measured AS m
), moved AS (
    UPDATE tasks AS t
    SET state = 'queued', pause = NULL, run_at = outlast_now(), updated_at = outlast_now()
    FROM task
    WHERE t.id = task.id
      AND t.state = 'paused'
      AND NOT EXISTS (SELECT FROM checked WHERE NOT fits)
    RETURNING t.id, t.tenant, t.lease_epoch
), events AS (
    INSERT INTO task_events (tenant, task_id, kind, from_state, to_state, lease_epoch, detail)
    SELECT m.tenant, m.id, 'resumed', 'paused', 'queued', m.lease_epoch,
           jsonb_build_object('by', %(by)s::text)
    FROM moved AS m
)
SELECT task.state, m.id IS NOT NULL AS resumed,
       (SELECT coalesce(jsonb_agg(to_jsonb(c) - 'fits'), '[]') FROM checked AS c WHERE NOT c.fits)
           AS over,
       CASE WHEN m.id IS NOT NULL THEN pg_notify('outlast_tasks', 'resumed') END AS notified
FROM task
LEFT JOIN moved AS m ON m.id = task.id;

-- name: budget_resume_due
-- The reaper: queue tasks paused on an hourly or daily budget whose call now fits (the rolling
-- hour let enough spend age out, the day turned, or spend was released). A task paused on its own budget waits for a raise and an
-- explicit resume. Reads the partial index tasks_paused; SKIP LOCKED passes a task a resume or
-- cancel holds.
WITH due AS (
    SELECT t.id
    FROM tasks AS t
    WHERE t.state = 'paused'
      AND t.pause ->> 'reason' = 'budget'
      AND t.pause ->> 'scope' IN ('agent_hour', 'tenant_day')
      AND NOT EXISTS (
          SELECT FROM budget_applicable AS a
          LEFT JOIN budget_windows AS w
                 ON (w.tenant, w.scope, w.subject, w.window_start)
                  = (a.tenant, a.scope, a.subject, a.window_start)
          WHERE a.task_id = t.id
            AND outlast_budget_spent(a.tenant, a.scope, a.subject, coalesce(w.spent_micro_usd, 0))
                + coalesce(w.reserved_micro_usd, 0)
                + (t.pause ->> 'needed_micro_usd')::bigint > a.limit_micro_usd
      )
    ORDER BY t.id
    LIMIT %(batch)s
    FOR UPDATE OF t SKIP LOCKED
), moved AS (
    UPDATE tasks AS t
    SET state = 'queued', pause = NULL, run_at = outlast_now(), updated_at = outlast_now()
    FROM due
    WHERE t.id = due.id AND t.state = 'paused'
    RETURNING t.id, t.tenant, t.lease_epoch
), events AS (
    INSERT INTO task_events (tenant, task_id, kind, from_state, to_state, lease_epoch, detail)
    SELECT tenant, id, 'resumed', 'paused', 'queued', lease_epoch,
           jsonb_build_object('by', 'reaper')
    FROM moved
)
SELECT id, pg_notify('outlast_tasks', 'resumed') AS notified FROM moved;

-- name: budget_list_paused
-- The inbox's budget requests: tenant :tenant's tasks paused on a budget, oldest first, with
-- the window that refused the call and its spend now (keyset-paginated on (updated_at, id)).
SELECT t.id AS task_id, t.graph, t.agent, t.metadata AS task_metadata, t.pause,
       t.updated_at AS paused_at, a.limit_micro_usd,
       coalesce(outlast_budget_spent(a.tenant, a.scope, a.subject, w.spent_micro_usd), 0)
           AS spent_micro_usd,
       coalesce(w.reserved_micro_usd, 0) AS reserved_micro_usd
FROM tasks AS t
LEFT JOIN budget_applicable AS a ON a.task_id = t.id AND a.scope = t.pause ->> 'scope'
LEFT JOIN budget_windows AS w
       ON (w.tenant, w.scope, w.subject, w.window_start)
        = (a.tenant, a.scope, a.subject, a.window_start)
WHERE t.tenant = %(tenant)s
  AND t.state = 'paused'
  AND (%(after_at)s::timestamptz IS NULL
       OR (t.updated_at, t.id) > (%(after_at)s::timestamptz, %(after_id)s::uuid))
ORDER BY t.updated_at, t.id
LIMIT %(limit)s;

-- name: budget_tenant_get
-- Tenant :tenant's daily budget and today's (UTC) spend and reservations.
SELECT %(tenant)s::text AS tenant, b.per_day_micro_usd, b.updated_at, b.updated_by,
       coalesce(w.spent_micro_usd, 0) AS spent_today_micro_usd,
       coalesce(w.reserved_micro_usd, 0) AS reserved_today_micro_usd
FROM (SELECT) AS one
LEFT JOIN tenant_budgets AS b ON b.tenant = %(tenant)s
LEFT JOIN budget_windows AS w
       ON w.tenant = %(tenant)s AND w.scope = 'tenant_day' AND w.subject = ''
      AND w.window_start = date_trunc('day', outlast_now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';

-- name: budget_tenant_set
-- Set (or clear, with NULL) tenant :tenant's daily budget. It applies to the next reservation;
-- tasks paused on it resume by the reaper (or a resume) once their call fits.
INSERT INTO tenant_budgets (tenant, per_day_micro_usd, updated_by)
VALUES (%(tenant)s, %(per_day_micro_usd)s, %(updated_by)s)
ON CONFLICT (tenant) DO UPDATE
SET per_day_micro_usd = excluded.per_day_micro_usd,
    updated_by = excluded.updated_by,
    updated_at = clock_timestamp()
RETURNING tenant;

-- name: budget_prune
-- The reaper: delete window rows past the retention: a day (or a clock hour, as hours were
-- before migration 0030) that ended more than :retention_s ago, an agent's rolling hour once the
-- agent is gone, and a task's window once the task is gone (pruned). A row still holding a
-- reservation stays. Charges on a rolling hour go :retention_s after they left it. SKIP
-- LOCKED: a reserve or settle in flight holds its rows.
WITH spend_gone AS (
    DELETE FROM budget_spend
    WHERE id IN (SELECT id FROM budget_spend
                 WHERE charged_at < outlast_now() - interval '3600 seconds'
                                    - make_interval(secs => %(retention_s)s)
                 ORDER BY id
                 LIMIT %(batch)s)
), doomed AS (
    SELECT w.tenant, w.scope, w.subject, w.window_start
    FROM budget_windows AS w
    WHERE w.reserved_micro_usd = 0
      AND CASE w.scope
              WHEN 'agent_hour' THEN
                  CASE WHEN isfinite(w.window_start)
                       THEN w.window_start + interval '1 hour'
                            < outlast_now() - make_interval(secs => %(retention_s)s)
                       ELSE NOT EXISTS (SELECT FROM agents AS a
                                        WHERE a.tenant = w.tenant AND a.name = w.subject) END
              WHEN 'tenant_day' THEN w.window_start + interval '1 day'
                                     < outlast_now() - make_interval(secs => %(retention_s)s)
              ELSE NOT EXISTS (SELECT FROM tasks AS t WHERE t.id = w.subject::uuid)
          END
    LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
)
DELETE FROM budget_windows AS w
USING doomed AS d
WHERE (w.tenant, w.scope, w.subject, w.window_start)
    = (d.tenant, d.scope, d.subject, d.window_start)
RETURNING w.scope;
