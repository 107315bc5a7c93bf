-- Text artifacts a task's tools created (table artifacts), one per (task, name).

-- name: artifact_put
-- The worker stores an artifact for its task, fenced (a zombie writes nothing). The same name
-- again replaces the content: a re-run after a crash writes the same bytes under the same
-- idempotency key. No row means the lease is lost.
WITH fence AS (
    SELECT id, tenant
    FROM tasks
    WHERE id = %(task_id)s
      -- fence:begin
      AND lease_epoch = %(epoch)s
      AND state = 'running'
      AND lease_expires_at > outlast_now()
      -- fence:end
    FOR SHARE
)
INSERT INTO artifacts AS a (task_id, name, tenant, content_type, content, size_bytes,
                            idempotency_key)
SELECT fence.id, %(name)s, fence.tenant, %(content_type)s, %(content)s, %(size_bytes)s, %(key)s
FROM fence
ON CONFLICT (task_id, name) DO UPDATE
SET content_type = excluded.content_type, content = excluded.content,
    size_bytes = excluded.size_bytes, idempotency_key = excluded.idempotency_key,
    created_at = clock_timestamp()
RETURNING a.name, a.size_bytes;

-- name: artifact_list
-- A task's artifacts (without their content), by name; the task row comes first so a task of
-- the tenant without artifacts answers one row with a NULL name, and another tenant's none.
SELECT t.id AS task_id, a.name, a.content_type, a.size_bytes, a.created_at
FROM tasks AS t
LEFT JOIN artifacts AS a ON a.task_id = t.id
WHERE t.id = %(task_id)s AND t.tenant = %(tenant)s
ORDER BY a.name;

-- name: artifact_get
-- One artifact with its content, in the tenant.
SELECT name, content_type, content, size_bytes, created_at
FROM artifacts
WHERE task_id = %(task_id)s AND name = %(name)s AND tenant = %(tenant)s;
