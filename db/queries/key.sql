-- API keys (api/access.py). A request reads its key by primary key (key_get) every time, so a
-- revocation is effective on the next request; nothing caches a key.

-- name: key_insert
-- A new key: its public id, tenant, scopes and the SHA-256 of its secret (never the secret).
INSERT INTO api_keys (id, tenant, name, scopes, secret_sha256)
VALUES (%(id)s, %(tenant)s, %(name)s, %(scopes)s, %(secret_sha256)s)
RETURNING id, tenant, name, scopes, created_at, revoked_at, last_used_at;

-- name: key_get
-- A live (not revoked) key by its public id, with the hash the presented secret must match.
SELECT id, tenant, name, scopes, secret_sha256
FROM api_keys
WHERE id = %(id)s AND revoked_at IS NULL;

-- name: key_list
-- A tenant's keys, newest first (revoked ones too: they still name past decisions). Keyset page
-- on api_keys_tenant_created; `before` is the (created_at, id) of the previous page's last row.
SELECT id, tenant, name, scopes, created_at, revoked_at, last_used_at
FROM api_keys
WHERE tenant = %(tenant)s
  AND (%(before_at)s::timestamptz IS NULL OR (created_at, id) < (%(before_at)s, %(before_id)s))
ORDER BY created_at DESC, id DESC
LIMIT %(limit)s;

-- name: key_revoke
-- Revoke a key of this tenant now; revoking a revoked key keeps its first revocation time
-- (DELETE is idempotent). No row: no such key in this tenant.
UPDATE api_keys
SET revoked_at = coalesce(revoked_at, outlast_now())
WHERE id = %(id)s AND tenant = %(tenant)s
RETURNING id, tenant, name, scopes, created_at, revoked_at, last_used_at;

-- name: key_touch
-- Record that a key was used. The API calls it at most once per `every_s` per key per replica,
-- and the WHERE skips the write when another replica recorded it lately: a busy key costs a
-- write a minute, not a write a request.
UPDATE api_keys
SET last_used_at = outlast_now()
WHERE id = %(id)s
  AND (last_used_at IS NULL OR last_used_at < outlast_now() - make_interval(secs => %(every_s)s))
RETURNING id;
