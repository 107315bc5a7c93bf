-- A tenant's MCP tool servers (table tool_servers). The bearer token is stored here, apart from
-- any task state, and only tool_server_lookup (the worker, calling the server) reads it back.

-- name: tool_server_insert
-- Register a server with the tools just discovered on it. No row: the name is taken.
INSERT INTO tool_servers (tenant, name, url, token, tools, health, health_error, checked_at,
                          created_by)
VALUES (%(tenant)s, %(name)s, %(url)s, %(token)s, %(tools)s, %(health)s, %(health_error)s,
        clock_timestamp(), %(created_by)s)
ON CONFLICT (tenant, name) DO NOTHING
RETURNING tenant, name, url, token IS NOT NULL AS has_token, right(token, 4) AS token_hint,
          tools, health, health_error, checked_at, created_at, created_by;

-- name: tool_server_list
-- A tenant's servers by name, without their tokens.
SELECT tenant, name, url, token IS NOT NULL AS has_token, right(token, 4) AS token_hint, tools,
       health, health_error, checked_at, created_at, created_by
FROM tool_servers
WHERE tenant = %(tenant)s
ORDER BY name;

-- name: tool_server_delete
-- Remove a server from the tenant. No row: there was none.
DELETE FROM tool_servers
WHERE tenant = %(tenant)s AND name = %(name)s
RETURNING name;

-- name: tool_server_lookup
-- The worker, about to call a server's tool for a task: the server of the task's tenant, with
-- its token. Tenant-blind by task id, as every worker statement.
SELECT s.name, s.url, s.token, s.tools
FROM tasks AS t
JOIN tool_servers AS s ON s.tenant = t.tenant
WHERE t.id = %(task_id)s AND s.name = %(name)s;

-- name: tool_server_refresh
-- Record a server's tools and health after a check (discovery at registration or on refresh).
UPDATE tool_servers
SET tools = coalesce(%(tools)s, tools), health = %(health)s, health_error = %(health_error)s,
    checked_at = clock_timestamp()
WHERE tenant = %(tenant)s AND name = %(name)s
RETURNING tenant, name, url, token IS NOT NULL AS has_token, right(token, 4) AS token_hint,
          tools, health, health_error, checked_at, created_at, created_by;

-- name: tool_server_get
-- The API, about to check a server again: its URL and token (used for the call, not returned).
SELECT name, url, token
FROM tool_servers
WHERE tenant = %(tenant)s AND name = %(name)s;
