-- Tasks: submit, read, list, cancel, continue (follow-up, fork), prune.
-- Every state change is one statement that guards on the current state in its WHERE clause,
-- appends its task_events row in the same statement, and answers with RETURNING.

-- name: tasks_insert
-- Submit one task; it becomes ready (ready_at, its place in the claim order) at its run_at.
-- A repeated Idempotency-Key inserts nothing and returns no row; the caller then
-- reads the existing task (tasks_get_by_idempotency_key). ON CONFLICT waits for a concurrent insert
-- of the same key to commit, so the read that follows always finds it.
WITH inserted AS (
    INSERT INTO tasks (tenant, graph, agent, agent_version, input, metadata, priority, run_at,
                       ready_at, max_attempts, timeout_s, wait_timeout_s, on_wait_timeout,
                       idempotency_key, request_hash, thread_id, resume_patch)
    SELECT %(tenant)s, %(graph)s, %(agent)s, %(pinned_version)s, %(input)s, %(metadata)s,
           %(priority)s, ready.at, ready.at, %(max_attempts)s, %(timeout_s)s, %(wait_timeout_s)s,
           %(on_wait_timeout)s, %(idempotency_key)s, %(request_hash)s, %(thread_id)s::uuid,
           %(resume_patch)s
    FROM (SELECT coalesce(%(run_at)s::timestamptz, outlast_now()) AS at) AS ready
    -- A named thread must be the tenant's (ADR 0018); the caller checked, this makes it so.
    WHERE %(thread_id)s::uuid IS NULL
       OR EXISTS (SELECT FROM threads WHERE id = %(thread_id)s::uuid AND tenant = %(tenant)s)
    ON CONFLICT (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING *
), events AS (
    INSERT INTO task_events (tenant, task_id, kind, to_state, detail)
    SELECT tenant, id, 'submitted', 'queued', jsonb_build_object('run_at', run_at) FROM inserted
)
SELECT inserted.*, pg_notify('outlast_tasks', 'submitted') AS notified FROM inserted;

-- name: tasks_get_by_idempotency_key
-- The task an Idempotency-Key already created (keys are per tenant).
SELECT * FROM tasks WHERE tenant = %(tenant)s AND idempotency_key = %(idempotency_key)s;

-- name: tasks_get
-- One of the tenant's tasks by id (another tenant's is no row).
SELECT * FROM tasks WHERE id = %(task_id)s AND tenant = %(tenant)s;

-- name: tasks_list
-- Newest first, keyset-paginated on (created_at, id) so a page costs the same at any depth.
-- Filters: state, graph, agent (tasks_state_created / tasks_agent_created: tenant, then the
-- column, then created_at), a creation time range (bounds the same index scans), and `text`,
-- a case-insensitive substring of the input's or the error's JSON. The text test cannot use an
-- index; it filters the rows the index walk yields in order and stops at LIMIT matches, so a
-- rare text is cheap only within a time range (docs/api.md says so).
-- Each task's model-call cost so far is summed per row of the page only (index llm_calls_key,
-- which leads with task_id), so the sum costs a page's worth of index reads, not a table scan.
SELECT t.*,
       (SELECT coalesce(sum(c.cost_micro_usd), 0)
        FROM llm_calls AS c
        WHERE c.task_id = t.id) AS cost_micro_usd
FROM tasks AS t
WHERE t.tenant = %(tenant)s
  AND (%(state)s::text IS NULL OR t.state = %(state)s::text)
  AND (%(graph)s::text IS NULL OR t.graph = %(graph)s::text)
  AND (%(agent)s::text IS NULL OR t.agent = %(agent)s::text)
  AND (%(created_after)s::timestamptz IS NULL OR t.created_at >= %(created_after)s::timestamptz)
  AND (%(created_before)s::timestamptz IS NULL OR t.created_at < %(created_before)s::timestamptz)
  AND (%(text)s::text IS NULL
       OR strpos(lower(t.input::text), lower(%(text)s::text)) > 0
       OR strpos(lower(coalesce(t.error::text, '')), lower(%(text)s::text)) > 0)
  AND (%(before_created_at)s::timestamptz IS NULL
       OR (t.created_at, t.id) < (%(before_created_at)s::timestamptz, %(before_id)s::uuid))
ORDER BY t.created_at DESC, t.id DESC
LIMIT %(limit)s;

-- name: tasks_events_list
-- A task's history, oldest first, paginated by event id.
SELECT id, task_id, at, kind, from_state, to_state, lease_epoch, worker_id, attempt, detail
FROM task_events
WHERE tenant = %(tenant)s AND task_id = %(task_id)s AND id > %(after_id)s
ORDER BY id
LIMIT %(limit)s;

-- name: tasks_cancel
-- Cancel a task. Queued or waiting: cancelled at once. Running: the flag is raised and the worker
-- stops at its next node boundary (it sees the flag on its next heartbeat). The FOR UPDATE in
-- `cur` only captures the state being left, for the event row; the guard is in the UPDATE.
WITH now AS (
    SELECT outlast_now() AS t
), cur AS (
    SELECT id, state FROM tasks WHERE id = %(task_id)s AND tenant = %(tenant)s FOR UPDATE
), moved AS (
    UPDATE tasks AS t
    SET cancel_requested = true,
        state = CASE WHEN c.state = 'running' THEN 'running' ELSE 'cancelled' END,
        finished_at = CASE WHEN c.state = 'running' THEN NULL ELSE (SELECT t FROM now) END,
        updated_at = (SELECT t FROM now)
    FROM cur AS c
    WHERE t.id = c.id
      AND t.state IN ('queued', 'running', 'waiting_for_approval', 'waiting_for_input', 'paused')
      AND NOT t.cancel_requested
    RETURNING t.*, c.state AS previous_state
), events AS (
    INSERT INTO task_events (tenant, task_id, kind, from_state, to_state, lease_epoch, detail)
    SELECT tenant, id, CASE WHEN state = 'cancelled' THEN 'cancelled' ELSE 'cancel_requested' END,
           previous_state, state, lease_epoch, jsonb_build_object('reason', %(reason)s::text)
    FROM moved
)
-- A running task's worker hears of the cancel at once on `outlast_cancel` (its heartbeat, which
-- returns the flag too, stays the source of truth).
SELECT m.*, n.notified
FROM moved AS m
LEFT JOIN LATERAL (
    SELECT pg_notify('outlast_cancel', m.id::text) AS notified WHERE m.state = 'running'
) AS n ON true;

-- name: tasks_insert_many
-- Submit a batch of tasks in one statement, so in one transaction: every task or none. Each
-- column arrives as an array with one element per task; WITH ORDINALITY keeps the caller's order,
-- which the INSERT follows (so run_at, read per row from the clock, rises through the batch) and
-- the final SELECT restores (RETURNING has no order). Every task gets its `submitted` event. The
-- NOTIFY is an uncorrelated subquery, so it runs once per batch, not once per row. No
-- Idempotency-Key: a batch is not replayable.
WITH batch AS (
    SELECT gen_random_uuid() AS id, b.*
    FROM unnest(%(graphs)s::text[], %(agents)s::text[], %(agent_versions)s::int[],
                %(inputs)s::jsonb[], %(metadatas)s::jsonb[],
                %(priorities)s::smallint[], %(run_ats)s::timestamptz[], %(max_attempts)s::int[],
                %(timeouts_s)s::int[], %(wait_timeouts_s)s::int[], %(on_wait_timeouts)s::text[])
         WITH ORDINALITY AS b (graph, agent, agent_version, input, metadata, priority, run_at,
                               max_attempts, timeout_s, wait_timeout_s, on_wait_timeout, ord)
), inserted AS (
    INSERT INTO tasks (id, tenant, graph, agent, agent_version, input, metadata, priority, run_at,
                       ready_at, max_attempts, timeout_s, wait_timeout_s, on_wait_timeout)
    SELECT id, %(tenant)s, graph, agent, agent_version, input, metadata, priority, ready.at,
           ready.at, max_attempts, timeout_s, wait_timeout_s, on_wait_timeout
    FROM batch CROSS JOIN LATERAL (SELECT coalesce(batch.run_at, outlast_now()) AS at) AS ready
    ORDER BY ord
    RETURNING *
), events AS (
    INSERT INTO task_events (tenant, task_id, kind, to_state, detail)
    SELECT tenant, id, 'submitted', 'queued', jsonb_build_object('run_at', run_at) FROM inserted
)
SELECT inserted.*, (SELECT pg_notify('outlast_tasks', 'submitted')) AS notified
FROM inserted JOIN batch USING (id)
ORDER BY batch.ord;

-- name: tasks_lock_for_decision
-- Lock the task before deciding one of its waits. Decisions on one task serialise on this row
-- lock, and the decide statement that follows (a new snapshot under READ COMMITTED) sees every
-- decision committed before it: the last one, and only the last one, queues the task.
SELECT id, state FROM tasks WHERE id = %(task_id)s AND tenant = %(tenant)s FOR UPDATE;

-- name: tasks_follow_up
-- Continue a completed task on the same thread with new input (a follow-up message): queued
-- again with a fresh retry budget; the worker runs the input on top of the thread's state.
-- New work, so it takes its place in the claim order from now (ready_at), as a submit does.
WITH now AS (
    SELECT outlast_now() AS t
), moved AS (
    UPDATE tasks
    SET state = 'queued',
        resume_input = %(input)s,
        attempts = 0,
        cancel_requested = false,
        finished_at = NULL,
        run_at = (SELECT t FROM now),
        ready_at = (SELECT t FROM now),
        updated_at = (SELECT t FROM now)
    WHERE id = %(task_id)s AND tenant = %(tenant)s AND state = 'completed'
    RETURNING *
), events AS (
    INSERT INTO task_events (tenant, task_id, kind, from_state, to_state, lease_epoch, detail)
    SELECT tenant, id, 'follow_up', 'completed', 'queued', lease_epoch, jsonb_build_object('input', %(input)s)
    FROM moved
)
SELECT moved.*, pg_notify('outlast_tasks', 'follow_up') AS notified FROM moved;

-- name: tasks_fork
-- Time travel: a new task (of the same tenant, and pinning the same agent version when it ran
-- an agent) whose thread starts as a copy of another task's checkpoint (its
-- channel blobs and pending writes too, except recorded human answers, so the fork asks again).
-- The worker applies :state_patch, then resumes from there. Nothing is inserted when the
-- checkpoint is not on the source task's thread.
WITH now AS (
    SELECT outlast_now() AS t
), cp AS (
    SELECT * FROM checkpoints
    WHERE thread_id = %(task_id)s::text AND checkpoint_ns = '' AND checkpoint_id = %(checkpoint_id)s
), inserted AS (
    INSERT INTO tasks (tenant, graph, agent, agent_version, input, metadata, priority,
                       max_attempts, timeout_s, wait_timeout_s, on_wait_timeout, resume_patch)
    SELECT s.tenant, s.graph, s.agent, s.agent_version, s.input,
           s.metadata || jsonb_build_object('forked_from', jsonb_build_object(
               'task_id', s.id, 'checkpoint_id', %(checkpoint_id)s::text)),
           s.priority, s.max_attempts, s.timeout_s, s.wait_timeout_s, s.on_wait_timeout,
           %(state_patch)s
    FROM tasks AS s
    WHERE s.id = %(task_id)s AND s.tenant = %(tenant)s AND EXISTS (SELECT 1 FROM cp)
    RETURNING *
), copied_checkpoint AS (
    INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type,
                             checkpoint, metadata)
    SELECT i.id::text, cp.checkpoint_ns, cp.checkpoint_id, NULL, cp.type, cp.checkpoint,
           cp.metadata || jsonb_build_object('forked_from', %(task_id)s::text)
    FROM inserted AS i, cp
), copied_order AS (
    INSERT INTO checkpoint_order (tenant, thread_id, checkpoint_ns, checkpoint_id, lease_epoch)
    SELECT i.tenant, i.id::text, cp.checkpoint_ns, cp.checkpoint_id, i.lease_epoch
    FROM inserted AS i, cp
), copied_blobs AS (
    INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, blob)
    SELECT i.id::text, b.checkpoint_ns, b.channel, b.version, b.type, b.blob
    FROM inserted AS i, cp
    JOIN checkpoint_blobs AS b
      ON b.thread_id = cp.thread_id AND b.checkpoint_ns = cp.checkpoint_ns
     AND (b.channel, b.version) IN (SELECT key, value
                                    FROM jsonb_each_text(cp.checkpoint->'channel_versions'))
), copied_writes AS (
    INSERT INTO checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel,
                                   type, blob, task_path)
    SELECT i.id::text, w.checkpoint_ns, w.checkpoint_id, w.task_id, w.idx, w.channel, w.type,
           w.blob, w.task_path
    FROM inserted AS i, cp
    JOIN checkpoint_writes AS w
      ON w.thread_id = cp.thread_id AND w.checkpoint_ns = cp.checkpoint_ns
     AND w.checkpoint_id = cp.checkpoint_id
    WHERE w.channel <> '__resume__'
), shared AS (
    -- The copy reads the source's transcript nodes: none goes with the source's retention.
    UPDATE transcript_messages AS m
    SET owner = NULL
    FROM inserted AS i
    WHERE m.tenant = i.tenant AND m.owner = %(task_id)s
), events AS (
    INSERT INTO task_events (tenant, task_id, kind, to_state, detail)
    SELECT tenant, id, 'submitted', 'queued', jsonb_build_object(
        'forked_from', %(task_id)s::text, 'checkpoint_id', %(checkpoint_id)s::text)
    FROM inserted
)
SELECT inserted.*, pg_notify('outlast_tasks', 'forked') AS notified FROM inserted;

-- name: tasks_prune_finished
-- Delete finished tasks older than the retention, with their LangGraph threads (the checkpoint
-- tables have no foreign key to tasks) and their events (no foreign key either, ADR 0006); waits
-- go by ON DELETE CASCADE, its model calls too, and the transcript nodes it owns (stored by it
-- alone: a node another task stored too, or a fork or replay of it may read, has no owner). A
-- task one of whose dead letters is still kept is not pruned: an open dead letter (neither redriven nor resolved) is kept until an operator closes it, a closed one
-- :dead_letter_retention_s after it was closed (0: forever), and the cascade would take them with
-- the task. So a failed task waiting for an operator stays, whatever its age.
-- A pruned task's Idempotency-Key is free again. SKIP LOCKED: never waits on a busy row.
WITH doomed AS (
    SELECT id, id::text AS thread_id
    FROM tasks AS t
    WHERE state IN ('completed', 'failed', 'cancelled')
      AND finished_at < outlast_now() - make_interval(secs => %(retention_s)s)
      AND NOT EXISTS (
          SELECT FROM dead_letters AS d
          WHERE d.task_id = t.id
            AND (coalesce(d.redriven_at, d.resolved_at) IS NULL
                 OR %(dead_letter_retention_s)s::float8 = 0
                 OR coalesce(d.redriven_at, d.resolved_at)
                    >= outlast_now() - make_interval(secs => %(dead_letter_retention_s)s)))
    ORDER BY finished_at
    LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
), checkpoints_gone AS (
    DELETE FROM checkpoints WHERE thread_id IN (SELECT thread_id FROM doomed)
), order_gone AS (
    DELETE FROM checkpoint_order WHERE thread_id IN (SELECT thread_id FROM doomed)
), blobs_gone AS (
    DELETE FROM checkpoint_blobs WHERE thread_id IN (SELECT thread_id FROM doomed)
), writes_gone AS (
    DELETE FROM checkpoint_writes WHERE thread_id IN (SELECT thread_id FROM doomed)
), transcripts_gone AS (
    -- The transcript nodes the task stored and no other task stored or may read (ADR 0023).
    DELETE FROM transcript_messages WHERE owner IN (SELECT id FROM doomed)
), events_gone AS (
    DELETE FROM task_events WHERE task_id IN (SELECT id FROM doomed)
), tasks_gone AS (
    DELETE FROM tasks WHERE id IN (SELECT id FROM doomed) RETURNING id
)
SELECT count(*) AS pruned FROM tasks_gone;

-- name: tasks_replay
-- A replay of a tenant's finished agent task from its :from_call-th model call: a new task of the
-- same graph, agent version and input, run from scratch with :overrides applied to the agent's
-- spec (over the original's own, when it is a replay too); the worker reuses the original's
-- recorded responses for the calls before :from_call (llm_call_replay). The new task names its original in `replay_of` (and in its metadata, for a
-- reader of the task alone). No row: no such finished agent task of this tenant.
WITH inserted AS (
    INSERT INTO tasks (tenant, graph, agent, agent_version, input, metadata, priority,
                       max_attempts, timeout_s, wait_timeout_s, on_wait_timeout, replay_of,
                       replay_from_call, agent_overrides)
    SELECT s.tenant, s.graph, s.agent, s.agent_version, s.input,
           s.metadata || jsonb_build_object('replay_of', jsonb_build_object(
               'task_id', s.id, 'from_call', %(from_call)s::int)),
           s.priority, s.max_attempts, s.timeout_s, s.wait_timeout_s, s.on_wait_timeout,
           s.id, %(from_call)s, coalesce(s.agent_overrides, '{}'::jsonb) || %(overrides)s
    FROM tasks AS s
    WHERE s.id = %(task_id)s
      AND s.tenant = %(tenant)s
      AND s.agent IS NOT NULL
      AND s.state IN ('completed', 'failed', 'cancelled')
    RETURNING *
), shared AS (
    -- The replay reuses the original's recorded answers: none goes with its retention.
    UPDATE transcript_messages AS m
    SET owner = NULL
    FROM inserted AS i
    WHERE m.tenant = i.tenant AND m.owner = %(task_id)s
), events AS (
    INSERT INTO task_events (tenant, task_id, kind, to_state, detail)
    SELECT tenant, id, 'submitted', 'queued', jsonb_build_object(
        'replay_of', %(task_id)s::text, 'from_call', %(from_call)s::int)
    FROM inserted
)
SELECT inserted.*, pg_notify('outlast_tasks', 'replayed') AS notified FROM inserted;
