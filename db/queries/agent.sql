-- Agents (api/routes/agents.py): versioned specs owned by a tenant. Every statement filters by
-- %(tenant)s, so another tenant's agent is no row (the API's 404). A version row is written
-- once and never updated or deleted: a change is the next version.

-- name: agent_create
-- A new agent at version 1 and its first spec, in one statement. No row: the tenant already
-- has an agent with this name.
WITH agent AS (
    INSERT INTO agents (tenant, name, version)
    VALUES (%(tenant)s, %(name)s, 1)
    ON CONFLICT (tenant, name) DO NOTHING
    RETURNING tenant, name, version, disabled_at, created_at
), spec AS (
    INSERT INTO agent_versions (tenant, name, version, spec, created_by)
    SELECT tenant, name, version, %(spec)s, %(created_by)s FROM agent
    RETURNING spec, created_at, created_by
)
SELECT agent.name, agent.version, agent.disabled_at, agent.created_at,
       spec.spec, spec.created_at AS updated_at, spec.created_by AS updated_by
FROM agent, spec;

-- name: agent_get
-- A tenant's agent with its current spec.
SELECT a.name, a.version, a.disabled_at, a.created_at,
       v.spec, v.created_at AS updated_at, v.created_by AS updated_by
FROM agents a
JOIN agent_versions v ON (v.tenant, v.name, v.version) = (a.tenant, a.name, a.version)
WHERE a.tenant = %(tenant)s AND a.name = %(name)s;

-- name: agent_list
-- A tenant's agents by name (disabled ones too), with their current specs. Keyset page on the
-- primary key; `after` is the previous page's last name.
SELECT a.name, a.version, a.disabled_at, a.created_at,
       v.spec, v.created_at AS updated_at, v.created_by AS updated_by
FROM agents a
JOIN agent_versions v ON (v.tenant, v.name, v.version) = (a.tenant, a.name, a.version)
WHERE a.tenant = %(tenant)s AND (%(after)s::text IS NULL OR a.name > %(after)s)
ORDER BY a.name
LIMIT %(limit)s;

-- name: agent_update
-- The next version of an agent, guarded on the version the new spec was made from: no row when
-- the agent is gone or another update came first (the caller tells which). The row lock of the
-- UPDATE orders concurrent updates; the loser's guard no longer matches.
WITH agent AS (
    UPDATE agents SET version = version + 1
    WHERE tenant = %(tenant)s AND name = %(name)s AND version = %(from_version)s
    RETURNING tenant, name, version, disabled_at, created_at
), spec AS (
    INSERT INTO agent_versions (tenant, name, version, spec, created_by)
    SELECT tenant, name, version, %(spec)s, %(created_by)s FROM agent
    RETURNING spec, created_at, created_by
)
SELECT agent.name, agent.version, agent.disabled_at, agent.created_at,
       spec.spec, spec.created_at AS updated_at, spec.created_by AS updated_by
FROM agent, spec;

-- name: agent_set_disabled
-- Disable (keeping the first time) or enable an agent; idempotent. No row: no such agent.
UPDATE agents a
SET disabled_at = CASE WHEN %(disabled)s THEN coalesce(a.disabled_at, outlast_now()) END
FROM agent_versions v
WHERE a.tenant = %(tenant)s AND a.name = %(name)s
  AND (v.tenant, v.name, v.version) = (a.tenant, a.name, a.version)
RETURNING a.name, a.version, a.disabled_at, a.created_at,
          v.spec, v.created_at AS updated_at, v.created_by AS updated_by;

-- name: agent_version_list
-- A tenant's agent's versions, newest first. Keyset page on the primary key; `before` is the
-- previous page's last version.
SELECT name, version, spec, created_at, created_by
FROM agent_versions
WHERE tenant = %(tenant)s AND name = %(name)s
  AND (%(before)s::int IS NULL OR version < %(before)s)
ORDER BY version DESC
LIMIT %(limit)s;

-- name: agent_version_pair
-- Versions `from` and `to` of a tenant's agent (one row when they are equal), for a diff.
SELECT name, version, spec, created_at, created_by
FROM agent_versions
WHERE tenant = %(tenant)s AND name = %(name)s AND version IN (%(from)s, %(to)s);

-- name: agent_version_get
-- One version of a tenant's agent.
SELECT name, version, spec, created_at, created_by
FROM agent_versions
WHERE tenant = %(tenant)s AND name = %(name)s AND version = %(version)s;

-- name: agent_pinned
-- For the worker running a task submitted to an agent: the spec of the version the task pinned,
-- the task's overrides (a replay's) and what it replays. By task id, under the worker's lease:
-- tenant-blind, the tenant is the task row's own. Never the agent's current version: an update
-- made after the submit does not reach the task.
SELECT t.agent AS name, t.agent_version AS version, v.spec, t.agent_overrides AS overrides,
       t.replay_of, t.replay_from_call
FROM tasks AS t
JOIN agent_versions AS v ON (v.tenant, v.name, v.version) = (t.tenant, t.agent, t.agent_version)
WHERE t.id = %(task_id)s;
