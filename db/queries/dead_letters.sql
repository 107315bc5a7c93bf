-- Dead letters: one row per task that failed for good. Operators list, group, inspect and
-- redrive or resolve them. A dead letter is open until one of the two closes it; both are
-- compare-and-set on the open dead letter: exactly one wins.

-- name: dead_letters_list
-- Open (or, with :include_redriven, all: redriven and resolved too) dead letters, oldest first,
-- keyset-paginated.
SELECT *
FROM dead_letters
WHERE tenant = %(tenant)s
  AND (%(include_redriven)s OR (redriven_at IS NULL AND resolved_at IS NULL))
  AND (%(graph)s::text IS NULL OR graph = %(graph)s::text)
  AND (%(error_type)s::text IS NULL OR error_type = %(error_type)s::text)
  AND (%(task_id)s::uuid IS NULL OR task_id = %(task_id)s::uuid)
  AND (%(after_created_at)s::timestamptz IS NULL
       OR (created_at, id) > (%(after_created_at)s::timestamptz, %(after_id)s::uuid))
ORDER BY created_at, id
LIMIT %(limit)s;

-- name: dead_letters_get
-- One dead letter by id.
SELECT * FROM dead_letters WHERE id = %(dead_letter_id)s AND tenant = %(tenant)s;

-- name: dead_letters_groups
-- Open dead letters grouped by graph and error type, largest group first.
SELECT graph, error_type, count(*) AS count, min(created_at) AS first_at,
       max(created_at) AS last_at
FROM dead_letters
WHERE tenant = %(tenant)s AND redriven_at IS NULL AND resolved_at IS NULL
GROUP BY graph, error_type
ORDER BY count(*) DESC, graph, error_type;

-- name: dead_letters_redrive
-- Redrive open dead letters (one by :dead_letter_id, or up to :limit by filter) back to queued.
-- Attempts restart at zero; the epoch is kept (never reset), so a holder from before cannot write.
-- Ready now, and in the claim order from now (ready_at): a redrive is a new start, which joins
-- the back of the queue rather than jumping the backlog with its first readiness.
-- The resume point: NULL continues from the thread's last checkpoint; 'scratch' forks from the
-- thread's first checkpoint (its input); 'checkpoint' forks from :checkpoint_id.
-- FOR UPDATE without SKIP LOCKED: a concurrent redrive of the same row waits, then re-reads
-- redriven_at and finds it set, so the loser redrives nothing (the API answers 409).
WITH now AS (
    SELECT outlast_now() AS t
), picked AS (
    SELECT d.id
    FROM dead_letters AS d
    JOIN tasks AS t ON t.id = d.task_id AND t.state = 'failed'
    WHERE d.tenant = %(tenant)s
      AND d.redriven_at IS NULL AND d.resolved_at IS NULL
      AND (%(dead_letter_id)s::uuid IS NULL OR d.id = %(dead_letter_id)s::uuid)
      AND (%(graph)s::text IS NULL OR d.graph = %(graph)s::text)
      AND (%(error_type)s::text IS NULL OR d.error_type = %(error_type)s::text)
    ORDER BY d.created_at, d.id
    LIMIT %(limit)s
    FOR UPDATE OF d
), closed AS (
    UPDATE dead_letters AS d
    SET redriven_at = (SELECT t FROM now), redrive_mode = %(mode)s
    FROM picked
    WHERE d.id = picked.id AND d.redriven_at IS NULL AND d.resolved_at IS NULL
    RETURNING d.id, d.task_id
), moved AS (
    UPDATE tasks AS t
    SET state = 'queued',
        attempts = 0,
        max_attempts = coalesce(%(max_attempts)s, t.max_attempts),
        run_at = (SELECT t FROM now),
        ready_at = (SELECT t FROM now),
        finished_at = NULL,
        cancel_requested = false,
        resume_checkpoint_id = CASE %(mode)s
            WHEN 'checkpoint' THEN %(checkpoint_id)s::text
            WHEN 'scratch' THEN (SELECT c.checkpoint_id FROM checkpoints AS c
                                 WHERE c.thread_id = t.id::text AND c.checkpoint_ns = ''
                                   AND c.parent_checkpoint_id IS NULL
                                 ORDER BY c.checkpoint_id LIMIT 1)
            END,
        updated_at = (SELECT t FROM now)
    FROM closed
    WHERE t.id = closed.task_id AND t.state = 'failed'
    RETURNING t.*, closed.id AS dead_letter_id
), events AS (
    INSERT INTO task_events (tenant, task_id, kind, from_state, to_state, lease_epoch, detail)
    SELECT tenant, id, 'redriven', 'failed', 'queued', lease_epoch,
           jsonb_build_object('dead_letter_id', dead_letter_id, 'mode', %(mode)s::text,
                              'resume_checkpoint_id', resume_checkpoint_id)
    FROM moved
)
SELECT moved.*, pg_notify('outlast_tasks', 'redriven') AS notified FROM moved;

-- name: dead_letters_resolve
-- Close an open dead letter without redriving it: the operator has dealt with it (or decided the
-- task is not worth running again). The task stays failed. Compare-and-set on the open dead
-- letter, so of a resolve and a redrive (or two resolves) exactly one wins. Closed, it goes by
-- OUTLAST_DEAD_LETTER_RETENTION_DAYS, and its task by OUTLAST_RETENTION_DAYS.
WITH now AS (
    SELECT outlast_now() AS t
), closed AS (
    UPDATE dead_letters
    SET resolved_at = (SELECT t FROM now), resolution = %(note)s
    WHERE id = %(dead_letter_id)s AND tenant = %(tenant)s
      AND redriven_at IS NULL AND resolved_at IS NULL
    RETURNING *
), events AS (
    INSERT INTO task_events (tenant, task_id, kind, from_state, to_state, detail)
    SELECT tenant, task_id, 'dead_letter_resolved', 'failed', 'failed',
           jsonb_build_object('dead_letter_id', id, 'note', %(note)s::text)
    FROM closed
)
SELECT * FROM closed;

-- name: dead_letters_prune_closed
-- Delete dead letters closed (redriven or resolved) longer ago than their own retention. Open
-- ones are never deleted here: they wait for an operator. The task stays, under its own retention.
DELETE FROM dead_letters
WHERE id IN (
    SELECT id FROM dead_letters
    WHERE coalesce(redriven_at, resolved_at) < outlast_now() - make_interval(secs => %(retention_s)s)
    LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
)
RETURNING id;
