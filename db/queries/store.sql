-- Store (db/store.py): a tenant's items of the LangGraph store (ADR 0029), a JSON value under a
-- namespace path and a key. Every statement is by tenant; an expired item is no row to any
-- read (and is replaced by the next put of its key).

-- name: store_put
-- Insert or replace an item; a replace keeps its created_at unless the item it replaces had
-- expired. `ttl_minutes` NULL: no expiry.
INSERT INTO store_items AS i (tenant, namespace, key, value, ttl_minutes, expires_at)
VALUES (%(tenant)s, %(namespace)s, %(key)s, %(value)s, %(ttl_minutes)s::double precision,
        outlast_now() + %(ttl_minutes)s::double precision * interval '1 minute')
ON CONFLICT (tenant, namespace, key) DO UPDATE
SET value = excluded.value, ttl_minutes = excluded.ttl_minutes,
    expires_at = excluded.expires_at, updated_at = outlast_now(),
    created_at = CASE WHEN i.expires_at <= outlast_now() THEN outlast_now() ELSE i.created_at END
RETURNING namespace, key;

-- name: store_get
-- One item, unless it expired; `refresh` moves the expiry of an item with a ttl to now + its
-- ttl, in the same statement (an UPDATE that changes nothing else).
UPDATE store_items
SET expires_at = CASE WHEN %(refresh)s THEN outlast_now() + ttl_minutes * interval '1 minute'
                      ELSE expires_at END
WHERE tenant = %(tenant)s AND namespace = %(namespace)s AND key = %(key)s
  AND (expires_at IS NULL OR expires_at > outlast_now())
RETURNING namespace, key, value, created_at, updated_at;

-- name: store_delete
-- Remove an item; deleting one that is not there is no row (and no error to the caller).
DELETE FROM store_items
WHERE tenant = %(tenant)s AND namespace = %(namespace)s AND key = %(key)s
RETURNING key;

-- name: store_search
-- Items under a namespace prefix whose value contains `filter` (jsonb containment: each given
-- key equals the given value), newest change first, a page at a time.
SELECT namespace, key, value, created_at, updated_at
FROM store_items
WHERE tenant = %(tenant)s
  AND namespace[1:cardinality(%(prefix)s::text[])] = %(prefix)s::text[]
  AND value @> %(filter)s
  AND (expires_at IS NULL OR expires_at > outlast_now())
ORDER BY updated_at DESC, namespace, key
LIMIT %(limit)s OFFSET %(offset)s;

-- name: store_namespaces
-- The distinct namespaces (cut to `max_depth` labels) that start with `prefix` and end with
-- `suffix` (each label '*' matches any), in order, a page at a time.
SELECT DISTINCT ns.namespace
FROM store_items AS i
CROSS JOIN LATERAL (
    SELECT i.namespace[1:coalesce(%(max_depth)s::int, cardinality(i.namespace))] AS namespace
) AS ns
WHERE i.tenant = %(tenant)s
  AND (i.expires_at IS NULL OR i.expires_at > outlast_now())
  AND cardinality(i.namespace) >= cardinality(%(prefix)s::text[])
  AND cardinality(i.namespace) >= cardinality(%(suffix)s::text[])
  AND NOT EXISTS (
      SELECT FROM unnest(%(prefix)s::text[]) WITH ORDINALITY AS p (label, n)
      WHERE p.label <> '*' AND p.label <> i.namespace[p.n])
  AND NOT EXISTS (
      SELECT FROM unnest(%(suffix)s::text[]) WITH ORDINALITY AS s (label, n)
      WHERE s.label <> '*'
        AND s.label <> i.namespace[cardinality(i.namespace) - cardinality(%(suffix)s::text[]) + s.n])
ORDER BY ns.namespace
LIMIT %(limit)s OFFSET %(offset)s;

-- name: store_put_fenced
-- A graph's put (db/graph_store.py): store_put in the task's tenant, only while the worker
-- still holds the task's lease. The fence row lock (FOR SHARE) keeps the lease from moving
-- until this commits; no row means the lease is lost and nothing was written.
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
INSERT INTO store_items AS i (tenant, namespace, key, value, ttl_minutes, expires_at)
SELECT fence.tenant, %(namespace)s, %(key)s, %(value)s, %(ttl_minutes)s::double precision,
       outlast_now() + %(ttl_minutes)s::double precision * interval '1 minute'
FROM fence
ON CONFLICT (tenant, namespace, key) DO UPDATE
SET value = excluded.value, ttl_minutes = excluded.ttl_minutes,
    expires_at = excluded.expires_at, updated_at = outlast_now(),
    created_at = CASE WHEN i.expires_at <= outlast_now() THEN outlast_now() ELSE i.created_at END
RETURNING i.key;

-- name: store_delete_fenced
-- A graph's delete: store_delete in the task's tenant under the lease. Returns the fence row
-- whether or not there was an item (no row: the lease is lost).
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
), deleted AS (
    DELETE FROM store_items AS i
    USING fence
    WHERE i.tenant = fence.tenant AND i.namespace = %(namespace)s AND i.key = %(key)s
    RETURNING i.key
)
SELECT fence.id, (SELECT count(*) FROM deleted) AS deleted FROM fence;
