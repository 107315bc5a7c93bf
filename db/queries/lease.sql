-- The lease: claim, heartbeat, fence, release, and the reaper taking expired leases back. Every
-- statement here reads the database clock through outlast_now() (clock_timestamp(), unless a test
-- moved its own session's clock).
-- A worker write is fenced by one predicate everywhere: the task is running, under the epoch the
-- worker claimed, and its lease has not expired (by outlast_now(), read when the row is checked).
-- A lease, once expired, is dead. The predicate is written once, in lease_fence between
-- `-- fence:begin` and `-- fence:end`; every worker write carries it verbatim
-- (tests/unit/test_sql_rule.py, docs/architecture.md "Named SQL blocks").

-- name: lease_claim_many
-- Claim up to :limit ready tasks of the graphs this worker runs (:graphs, the names it announced
-- at registration); raise each task's epoch and attempts. A task of a graph no live worker runs
-- stays queued until one that does arrives (GET /v1/graphs shows it).
-- Order: priority, then readiness (ready_at, kept across retries and reaped leases, so a task
-- whose backoff is over is not put behind tasks that became ready after it), then id.
-- SKIP LOCKED lets claimers pass each other's candidate rows instead of queueing on them; the
-- ORDER BY matches the partial index tasks_ready so the scan stops after :limit rows, and run_at
-- and graph are keys of that index too, so a task still in backoff, delayed, or of another graph
-- is passed over on the index entry, without a visit to the table. A row that
-- changed between the scan and the lock is re-checked against the WHERE by the lock itself
-- (READ COMMITTED re-evaluates a locking SELECT on the newest version), so the UPDATE joins by
-- primary key only: a second `state = 'queued'` there let the planner, on statistics taken when
-- the queue was empty, drive the UPDATE from an index of every queued task and scan all of them
-- for each claim (tests/integration/test_claim_plan.py). `NOT cancel_requested` is a second guard
-- (the CHECK tasks_cancel_requested_stops already keeps such a task out of `queued`): a task whose
-- cancel was requested is never claimed again (SPEC guarantee 8).
-- A task on a named thread (ADR 0018) is claimed only when it is its thread's next: no other task
-- of the thread is running or waiting, and none submitted before it is still queued, so a batch
-- never holds two tasks of one thread. A task on its own thread (thread_id NULL, most of them)
-- pays one IS NULL test. The unique index tasks_thread_running is the constraint behind it: a
-- claim racing a redrive on the same thread fails rather than run two at once.
WITH now AS (
    SELECT outlast_now() AS t
), picked AS (
    SELECT id
    FROM tasks
    WHERE state = 'queued'
      AND run_at <= (SELECT t FROM now)
      AND graph = ANY(%(graphs)s::text[])
      AND NOT cancel_requested
      AND (tasks.thread_id IS NULL OR outlast_thread_next(tasks.thread_id, tasks.id, tasks.created_at))
    ORDER BY priority DESC, ready_at, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE tasks AS t
    SET state = 'running',
        lease_epoch = t.lease_epoch + 1,
        attempts = t.attempts + 1,
        worker_id = %(worker_id)s,
        lease_expires_at = (SELECT t FROM now) + make_interval(secs => %(ttl_s)s),
        attempt_started_at = (SELECT t FROM now),
        started_at = coalesce(t.started_at, (SELECT t FROM now)),
        updated_at = (SELECT t FROM now)
    FROM picked
    WHERE t.id = picked.id
    RETURNING t.id, t.tenant, t.graph, t.input, t.attempts, t.max_attempts, t.lease_epoch,
              t.resume_checkpoint_id, t.resume_input, t.resume_patch, t.timeout_s, t.priority,
              t.ready_at, t.agent, t.thread_id,
              -- the submitting request's trace context, if any (outlast.traces, ADR 0021)
              t.metadata->>'traceparent' AS traceparent
), events AS (
    INSERT INTO task_events (tenant, task_id, kind, from_state, to_state, lease_epoch, worker_id, attempt)
    SELECT tenant, id, 'claimed', 'queued', 'running', lease_epoch, %(worker_id)s, attempts
    FROM claimed
)
-- RETURNING has no order; hand the batch back in claim order.
SELECT * FROM claimed ORDER BY priority DESC, ready_at, id;

-- name: lease_claim_fair
-- The fair claim (ADR 0013): as lease_claim_many, but fair across groups, a group being a
-- tenant's agent (or the tenant's tasks without one), and never past an agent's
-- max_concurrent_tasks. Groups are visited round-robin: each claim looks at the next :limit
-- groups with queued tasks after the claimer's cursor (:after_tenant,
-- :after_agent; '' for the start), wrapping around, and answers the last one it took from as
-- the next cursor; a skip scan of tasks_queued_group finds them, one index probe per group,
-- whatever the depth of the queue or the number of groups. Among them, a group's k-th ready
-- task ranks at ((tasks it has running, counted up to :limit) + k) / its agent's `share` (a
-- weight, 1 by default; ADR 0023), then priority and readiness (priorities apply within a
-- group): the least-loaded group relative to its share is served first and the batch fills
-- groups in proportion to their shares, so an agent with 10 tasks starts at once while another
-- of the same share has 100,000 queued or running.
-- Each group with room offers its first ceil(:limit * share / shares of groups with room) ready
-- tasks (the same
-- index, in claim order) FOR UPDATE SKIP LOCKED, so claimers pass each other's rows as in
-- lease_claim_many and nothing serialises them; the best :limit of those are claimed (at most
-- one group's share more are locked for the statement and left queued).
-- Caps: a capped agent's room is outlast_cap_room(): its cap minus its running tasks, counted
-- under a transaction-scoped advisory lock taken without waiting (a claimer already claiming
-- for the agent holds it: this one gets no room this round instead of queueing behind it) and
-- in a fresh snapshot, so a claim that committed after this statement began is counted. The
-- lock is held to the end of the claim, so claims of one capped agent never overlap; a cap is
-- never exceeded, at worst filled a round late, and nothing is written for it. Waiting and
-- paused tasks are not running: they hold no unit of a cap.
WITH RECURSIVE now AS (
    SELECT outlast_now() AS t
), ahead AS (
    (SELECT tenant, coalesce(agent, '') AS agent, 1 AS n
     FROM tasks
     WHERE state = 'queued'
       AND (tenant, coalesce(agent, '')) > (%(after_tenant)s::text, %(after_agent)s::text)
     ORDER BY tenant, coalesce(agent, '')
     LIMIT 1)
    UNION ALL
    SELECT x.tenant, x.agent, a.n + 1
    FROM ahead AS a
    CROSS JOIN LATERAL (
        SELECT tenant, coalesce(agent, '') AS agent
        FROM tasks
        WHERE state = 'queued' AND (tenant, coalesce(agent, '')) > (a.tenant, a.agent)
        ORDER BY tenant, coalesce(agent, '')
        LIMIT 1
    ) AS x
    WHERE a.n < %(limit)s
), wrapped AS (
    (SELECT tenant, coalesce(agent, '') AS agent, (SELECT count(*) FROM ahead) + 1 AS n
     FROM tasks
     WHERE state = 'queued'
     ORDER BY tenant, coalesce(agent, '')
     LIMIT 1)
    UNION ALL
    SELECT x.tenant, x.agent, w.n + 1
    FROM wrapped AS w
    CROSS JOIN LATERAL (
        SELECT tenant, coalesce(agent, '') AS agent
        FROM tasks
        WHERE state = 'queued' AND (tenant, coalesce(agent, '')) > (w.tenant, w.agent)
        ORDER BY tenant, coalesce(agent, '')
        LIMIT 1
    ) AS x
    WHERE w.n < %(limit)s
      AND (w.tenant, w.agent) < (%(after_tenant)s::text, %(after_agent)s::text)
), groups AS (
    SELECT tenant, agent, n FROM ahead
    UNION ALL
    SELECT tenant, agent, n
    FROM wrapped
    WHERE n <= %(limit)s
      AND (tenant, agent) <= (%(after_tenant)s::text, %(after_agent)s::text)
), load AS (
    SELECT g.tenant, g.agent, (v.spec ->> 'max_concurrent_tasks')::int AS cap, busy.running,
           greatest(coalesce((v.spec ->> 'share')::int, 1), 1) AS share
    FROM groups AS g
    LEFT JOIN agents AS a ON a.tenant = g.tenant AND a.name = g.agent
    LEFT JOIN agent_versions AS v
           ON v.tenant = a.tenant AND v.name = a.name AND v.version = a.version
    CROSS JOIN LATERAL (
        -- Only for ranking groups against each other: none to rank with one group, and a
        -- group with :limit running ranks as one with more (a bounded count, not all of them).
        SELECT count(*) AS running
        FROM (SELECT
              FROM tasks AS r
              WHERE (SELECT count(*) FROM groups) > 1
                AND r.state = 'running' AND r.tenant = g.tenant
                AND coalesce(r.agent, '') = g.agent
              LIMIT %(limit)s) AS counted
    ) AS busy
), room AS (
    SELECT l.*,
           CASE WHEN l.cap IS NULL THEN %(limit)s
                ELSE outlast_cap_room(l.tenant, l.agent, l.cap) END AS room
    FROM load AS l
), offered AS (
    SELECT o.id, o.priority, o.ready_at, r.tenant, r.agent,
           (r.running + row_number() OVER (PARTITION BY r.tenant, r.agent
                                           ORDER BY o.priority DESC, o.ready_at, o.id))::numeric
               / r.share AS rank
    FROM room AS r
    CROSS JOIN LATERAL (
        SELECT t.id, t.priority, t.ready_at
        FROM tasks AS t
        WHERE t.state = 'queued'
          AND t.tenant = r.tenant
          AND coalesce(t.agent, '') = r.agent
          AND t.run_at <= (SELECT t FROM now)
          AND t.graph = ANY(%(graphs)s::text[])
          AND NOT t.cancel_requested
          AND (t.thread_id IS NULL OR outlast_thread_next(t.thread_id, t.id, t.created_at))
        ORDER BY t.tenant, coalesce(t.agent, ''), t.priority DESC, t.ready_at, t.id
        LIMIT least(r.room,
                    ceil(%(limit)s::numeric * r.share
                         / (SELECT sum(share) FROM room WHERE room > 0))::int)
        FOR UPDATE OF t SKIP LOCKED
    ) AS o
    WHERE r.room > 0
), picked AS (
    SELECT id, tenant, agent
    FROM offered
    ORDER BY rank, priority DESC, ready_at, id
    LIMIT %(limit)s
), claimed AS (
    UPDATE tasks AS t
    SET state = 'running',
        lease_epoch = t.lease_epoch + 1,
        attempts = t.attempts + 1,
        worker_id = %(worker_id)s,
        lease_expires_at = (SELECT t FROM now) + make_interval(secs => %(ttl_s)s),
        attempt_started_at = (SELECT t FROM now),
        started_at = coalesce(t.started_at, (SELECT t FROM now)),
        updated_at = (SELECT t FROM now)
    FROM picked
    WHERE t.id = picked.id
    RETURNING t.id, t.tenant, t.graph, t.input, t.attempts, t.max_attempts, t.lease_epoch,
              t.resume_checkpoint_id, t.resume_input, t.resume_patch, t.timeout_s, t.priority,
              t.ready_at, t.agent, t.thread_id,
              -- the submitting request's trace context, if any (outlast.traces, ADR 0021)
              t.metadata->>'traceparent' AS traceparent
), events AS (
    INSERT INTO task_events (tenant, task_id, kind, from_state, to_state, lease_epoch, worker_id,
                             attempt)
    SELECT tenant, id, 'claimed', 'queued', 'running', lease_epoch, %(worker_id)s, attempts
    FROM claimed
)
-- The claimer's next cursor: the last group (in the visit's order) this claim took from, so a
-- group looked at but not served is looked at first next time.
SELECT c.*, last.tenant AS cursor_tenant, last.agent AS cursor_agent
FROM claimed AS c
CROSS JOIN (
    SELECT g.tenant, g.agent
    FROM groups AS g
    JOIN picked AS p ON p.tenant = g.tenant AND p.agent = g.agent
    ORDER BY g.n DESC
    LIMIT 1
) AS last
ORDER BY c.priority DESC, c.ready_at, c.id;

-- name: lease_heartbeat
-- Extend every live lease a worker holds, in one statement; return each task still held and
-- whether its cancel was requested. A task missing from the answer is lost: stop it.
-- No index covers lease_expires_at, so this is a HOT update. The rows are locked one by one in id
-- order, as outcome_complete_many locks them, so a heartbeat and a group commit of the same worker
-- cannot deadlock.
WITH now AS (
    SELECT outlast_now() AS t
), seen AS (
    UPDATE workers
    SET last_heartbeat_at = (SELECT t FROM now),
        state = CASE WHEN state = 'lost' THEN 'running' ELSE state END
    WHERE id = %(worker_id)s
    RETURNING id
), held AS (
    SELECT * FROM unnest(%(task_ids)s::uuid[], %(epochs)s::bigint[]) AS h (id, epoch) ORDER BY id
), locked AS (
    SELECT live.id
    FROM held
    CROSS JOIN LATERAL (
        SELECT t.id
        FROM tasks AS t
        WHERE t.id = held.id
          -- fence:begin
          AND lease_epoch = held.epoch
          AND state = 'running'
          AND lease_expires_at > outlast_now()
          -- fence:end
        FOR UPDATE
    ) AS live
)
UPDATE tasks AS t
SET lease_expires_at = (SELECT t FROM now) + make_interval(secs => %(ttl_s)s)
FROM locked
WHERE t.id = locked.id
RETURNING t.id, t.cancel_requested;

-- name: lease_fence
-- Open a fenced write: lock the task row FOR SHARE if this worker still holds its lease.
-- Run first in the transaction of every checkpoint write; no row means the lease is lost and the
-- transaction must roll back. The share lock makes a concurrent claim (which updates the row)
-- wait until this write commits, so a write lands either wholly before a new claim or not at all.
SELECT id
FROM tasks
WHERE id = %(task_id)s
  -- fence:begin
  AND lease_epoch = %(epoch)s
  AND state = 'running'
  AND lease_expires_at > outlast_now()
  -- fence:end
FOR SHARE;

-- name: lease_fence_last
-- The fence of a pipelined checkpoint write (worker/checkpointer.py, ADR 0005): the predicate and
-- the share lock of lease_fence, but a lost lease raises SQLSTATE OL001 instead of answering no
-- row. It is queued after the writes it guards, in the same pipeline, just before the one Sync
-- that ends their implicit transaction: the error aborts that transaction, so the writes commit
-- with a live fence or not at all, in one round trip. Where it sits in the transaction does not
-- matter: a claim that committed first makes it fail; a claim that comes later waits for the
-- commit on the share lock. The CASE reaches the volatile outlast_raise only when no row was
-- locked.
SELECT CASE WHEN count(*) = 0
            THEN outlast_raise('OL001', format('lease on task %%s at epoch %%s is lost',
                                               %(task_id)s::text, %(epoch)s::text))
       END AS lost
FROM (
    SELECT id
    FROM tasks
    WHERE id = %(task_id)s
      -- fence:begin
      AND lease_epoch = %(epoch)s
      AND state = 'running'
      AND lease_expires_at > outlast_now()
      -- fence:end
    FOR SHARE
) AS held;

-- name: lease_fence_resume
-- As lease_fence, and consume the task's resume point: the first checkpoint written after a
-- redrive from a chosen checkpoint (or from scratch), a follow-up's input or a fork's state patch
-- makes that write the thread's head, so a crash after it does not apply the resume point again.
UPDATE tasks
SET resume_checkpoint_id = NULL, resume_input = NULL, resume_patch = NULL
WHERE id = %(task_id)s
  -- fence:begin
  AND lease_epoch = %(epoch)s
  AND state = 'running'
  AND lease_expires_at > outlast_now()
  -- fence:end
RETURNING id;

-- name: lease_release
-- Give a task back on graceful shutdown: queued again at once, the attempt not counted
-- (the task did not fail; the worker left). It keeps its ready_at, so it goes back to its place
-- in the claim order, not behind the backlog. Wakes idle workers. A task whose cancel was
-- requested is not given back but cancelled (SPEC guarantee 8; its event says it was released).
-- Also a model call's wait on a provider rate limit (ADR 0016): :delay_s later (run_at, as a
-- delayed task), the event's detail saying why (:detail).
WITH released AS (
    UPDATE tasks
    SET state = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'queued' END,
        attempts = CASE WHEN cancel_requested THEN attempts ELSE attempts - 1 END,
        worker_id = NULL,
        lease_expires_at = NULL,
        run_at = outlast_now() + make_interval(secs => %(delay_s)s),
        finished_at = CASE WHEN cancel_requested THEN outlast_now() END,
        updated_at = outlast_now()
    WHERE id = %(task_id)s
      -- fence:begin
      AND lease_epoch = %(epoch)s
      AND state = 'running'
      AND lease_expires_at > outlast_now()
      -- fence:end
    RETURNING id, tenant, state, lease_epoch, attempts
), events AS (
    INSERT INTO task_events (tenant, task_id, kind, from_state, to_state, lease_epoch, worker_id, attempt,
                             detail)
    SELECT tenant, id, CASE state WHEN 'queued' THEN 'released' ELSE state END, 'running', state,
           lease_epoch, %(worker_id)s, CASE state WHEN 'queued' THEN attempts + 1 ELSE attempts END,
           CASE WHEN state = 'cancelled' THEN jsonb_build_object('after', 'released')
                ELSE coalesce(%(detail)s::jsonb, '{}'::jsonb) END
    FROM released
)
-- pg_notify in the final SELECT: an unreferenced SELECT CTE would never run. Postgres folds
-- identical notifications of one transaction into one.
SELECT id, state, pg_notify('outlast_tasks', 'released') AS notified FROM released;

-- name: lease_reap_expired
-- Take back leases that expired (the worker died or froze) and attempts that overran timeout_s.
-- Attempts are counted at claim, so a task whose worker keeps dying still runs out: with attempts
-- left it is queued again, keeping its ready_at, its place in the claim order; without, it fails
-- and gets its dead letter here. The first lost lease of a task is requeued at once: it already
-- waited out a TTL, and SPEC guarantee 4 bounds recovery by TTL + reaper interval. From the
-- second on (a task whose worker keeps dying), the same exponential backoff with equal jitter as
-- outcome_fail, one attempt behind (:retry_base_s after the second, doubling, capped at
-- :retry_max_s), so a crash loop slows down instead of spinning. A task whose cancel was requested is cancelled instead.
-- The epoch is not raised: the task leaves `running`, which already fences the old holder.
WITH now AS (
    SELECT outlast_now() AS t
), expired AS (
    SELECT id, worker_id,
           CASE WHEN timeout_s IS NOT NULL
                     AND attempt_started_at + make_interval(secs => timeout_s) <= (SELECT t FROM now)
                THEN 'timed_out' ELSE 'lease_expired' END AS reason,
           CASE WHEN attempts <= 1 THEN 0
                ELSE least(%(retry_max_s)s::float8,
                           %(retry_base_s)s::float8 * power(2, attempts - 2))
                     * (0.5 + random() / 2)
           END AS delay_s
    FROM tasks
    WHERE state = 'running'
      AND (lease_expires_at <= (SELECT t FROM now)
           OR (timeout_s IS NOT NULL
               AND attempt_started_at + make_interval(secs => timeout_s) <= (SELECT t FROM now)))
    ORDER BY id
    LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
), moved AS (
    UPDATE tasks AS t
    SET state = CASE WHEN t.cancel_requested THEN 'cancelled'
                     WHEN t.attempts < t.max_attempts THEN 'queued'
                     ELSE 'failed' END,
        run_at = CASE WHEN NOT t.cancel_requested AND t.attempts < t.max_attempts
                      THEN (SELECT t FROM now) + make_interval(secs => e.delay_s)
                      ELSE t.run_at END,
        worker_id = NULL,
        lease_expires_at = NULL,
        error = CASE WHEN t.cancel_requested THEN t.error
                     ELSE jsonb_build_object(
                         'type', CASE e.reason WHEN 'timed_out' THEN 'TaskTimeout'
                                               ELSE 'LeaseExpired' END,
                         'message', CASE e.reason
                             WHEN 'timed_out' THEN format('attempt %%s ran past timeout_s=%%s',
                                                          t.attempts, t.timeout_s)
                             ELSE format('worker %%s stopped heartbeating during attempt %%s',
                                         e.worker_id, t.attempts) END,
                         'retryable', true) END,
        finished_at = CASE WHEN t.cancel_requested OR t.attempts >= t.max_attempts
                           THEN (SELECT t FROM now) END,
        updated_at = (SELECT t FROM now)
    FROM expired AS e
    WHERE t.id = e.id AND t.state = 'running'
    RETURNING t.id, t.tenant, t.state, t.graph, t.attempts, t.lease_epoch, t.error, t.run_at, e.worker_id,
              e.reason
), events AS (
    INSERT INTO task_events (tenant, task_id, kind, from_state, to_state, lease_epoch, worker_id, attempt,
                             detail)
    SELECT tenant, id, reason, 'running', state, lease_epoch, worker_id, attempts,
           jsonb_build_object('error', error, 'retry_at', CASE WHEN state = 'queued' THEN run_at END)
    FROM moved
), dead AS (
    INSERT INTO dead_letters (tenant, task_id, graph, error_type, error_message, traceback, attempts,
                              attempt_history, last_checkpoint_id)
    SELECT m.tenant, m.id, m.graph, m.error->>'type', m.error->>'message', NULL, m.attempts,
           outlast_attempt_history(m.id) || jsonb_build_array(jsonb_build_object(
               'attempt', m.attempts, 'at', (SELECT t FROM now), 'kind', m.reason,
               'worker_id', m.worker_id, 'error', m.error)),
           outlast_checkpoint_head(m.id::text, '')
    FROM moved AS m
    WHERE m.state = 'failed'
)
SELECT id, state, reason, pg_notify('outlast_tasks', 'reaped') AS notified FROM moved;
