-- Provider rate limits (tables rate_limits, rate_buckets; ADR 0016): a token bucket per
-- (tenant, provider, model, provider key fingerprint), shared by every worker. A bucket holds
-- at most one minute's limit and refills continuously at that limit per minute; its level is
-- computed from `refilled_at` at each statement, under the bucket row's lock. It holds 5% less
-- than a minute's limit (at least one less, for a limit over one): the provider's bucket, fuller
-- by that much, absorbs requests that reach it later or closer together than they were taken
-- here (a worker's jitter), while the rate is the limit's. A model call
-- takes its estimated tokens and one request before it is made, and gives back what it did
-- not use after. No statement here is held open across a call or a sleep.

-- name: rate_limit_reserve
-- Before a call of task :task_id to :provider/:model with the key :key_fingerprint: take
-- :tokens tokens (capped at the tokens-per-minute limit, so a call larger than a minute's
-- limit can still go once the bucket is full) and one request, if both are there and no 429
-- blocks the bucket. Outcome 'unlimited' (no limit set for the task's tenant), 'open' (no
-- bucket row yet: rate_limit_open, then again), 'reserved' (taken; `tokens` is what was
-- taken), or 'wait' (nothing taken; `wait_s` is when the bucket will allow it). Tenant-blind:
-- the worker acts by task id; the tenant is the task's.
WITH clock AS (
    SELECT outlast_now() AS now  -- once: it names the request in flight for settle
), task AS (
    SELECT tenant FROM tasks WHERE id = %(task_id)s
), lim AS (
    SELECT l.tenant, l.provider, l.model, l.tokens_per_minute AS tpm,
           l.requests_per_minute AS rpm,
           -- what the bucket holds at most: the limit less its headroom
           l.tokens_per_minute - least(ceil(l.tokens_per_minute * 0.05)::bigint,
                                       l.tokens_per_minute - 1) AS tpm_cap,
           l.requests_per_minute - least(ceil(l.requests_per_minute * 0.05)::bigint,
                                         l.requests_per_minute - 1) AS rpm_cap
    FROM rate_limits AS l
    JOIN task ON task.tenant = l.tenant
    WHERE l.provider = %(provider)s AND l.model = %(model)s
), locked AS (
    SELECT b.tenant, b.provider, b.model, b.key_fingerprint, b.tokens, b.requests,
           b.refilled_at, b.blocked_until,
           ARRAY(SELECT f FROM unnest(b.in_flight) AS f
                 WHERE f > outlast_now() - interval '1 minute') AS in_flight
    FROM rate_buckets AS b
    JOIN lim ON (lim.tenant, lim.provider, lim.model) = (b.tenant, b.provider, b.model)
    WHERE b.key_fingerprint = %(key_fingerprint)s
    FOR UPDATE OF b
), level AS (
    SELECT k.*, lim.tpm, lim.rpm, lim.tpm_cap, lim.rpm_cap,
           least(lim.tpm_cap, %(tokens)s::bigint)::float8 AS need,
           greatest(0, extract(epoch FROM outlast_now() - k.refilled_at))::float8 AS elapsed
    FROM locked AS k, lim
), refilled AS (
    SELECT v.*,
           CASE WHEN v.tpm IS NULL THEN 0
                ELSE least(v.tpm_cap::float8, v.tokens + v.elapsed * v.tpm / 60.0) END AS tok,
           -- Refilled only up to the cap less the requests in flight: a request taken here
           -- reaches the provider later, and its bucket, full until then, refills none.
           CASE WHEN v.rpm IS NULL THEN 0
                ELSE least(greatest(v.requests, (v.rpm_cap - cardinality(v.in_flight))::float8),
                           v.requests + v.elapsed * v.rpm / 60.0) END AS req,
           greatest(0, coalesce(extract(epoch FROM v.blocked_until - outlast_now()), 0))::float8
               AS blocked_s
    FROM level AS v
), checked AS (
    SELECT r.*,
           greatest(
               r.blocked_s,
               CASE WHEN r.tpm IS NULL THEN 0 ELSE (r.need - r.tok) * 60.0 / r.tpm END,
               CASE WHEN r.rpm IS NULL THEN 0 ELSE (1 - r.req) * 60.0 / r.rpm END,
               0
           ) AS wait_s
    FROM refilled AS r
), taken AS (
    -- Written whether the call is taken or not: refill the in-flight cap held back is lost,
    -- as the provider's full bucket loses it.
    UPDATE rate_buckets AS b
    SET tokens = CASE WHEN c.tpm IS NULL THEN 0
                      WHEN c.wait_s <= 0 THEN c.tok - c.need ELSE c.tok END,
        requests = CASE WHEN c.rpm IS NOT NULL AND c.wait_s <= 0 THEN c.req - 1 ELSE c.req END,
        refilled_at = greatest(b.refilled_at, clock.now),
        blocked_until = CASE WHEN c.wait_s <= 0 THEN NULL ELSE b.blocked_until END,
        in_flight = CASE WHEN c.rpm IS NOT NULL AND c.wait_s <= 0 THEN c.in_flight || clock.now
                         ELSE c.in_flight END
    FROM checked AS c, clock
    WHERE (b.tenant, b.provider, b.model, b.key_fingerprint)
        = (c.tenant, c.provider, c.model, c.key_fingerprint)
    RETURNING b.tokens
)
SELECT CASE WHEN NOT EXISTS (SELECT FROM lim) THEN 'unlimited'
            WHEN NOT EXISTS (SELECT FROM checked) THEN 'open'
            WHEN (SELECT wait_s <= 0 FROM checked) AND EXISTS (SELECT FROM taken)
                THEN 'reserved'
            ELSE 'wait' END AS outcome,
       (SELECT CASE WHEN tpm IS NULL THEN 0 ELSE need END::bigint FROM checked) AS tokens,
       (SELECT wait_s FROM checked) AS wait_s,
       (SELECT now FROM clock) AS taken_at;

-- name: rate_limit_open
-- Make the bucket of task :task_id's tenant for :provider/:model and key :key_fingerprint,
-- full (its cap: the limit less its headroom), when a limit is set and the bucket does not exist
-- yet. Idempotent.
INSERT INTO rate_buckets (tenant, provider, model, key_fingerprint, tokens, requests, refilled_at)
SELECT l.tenant, l.provider, l.model, %(key_fingerprint)s,
       coalesce(l.tokens_per_minute - least(ceil(l.tokens_per_minute * 0.05)::bigint,
                                            l.tokens_per_minute - 1), 0),
       coalesce(l.requests_per_minute - least(ceil(l.requests_per_minute * 0.05)::bigint,
                                              l.requests_per_minute - 1), 0),
       outlast_now()
FROM rate_limits AS l
JOIN tasks AS t ON t.tenant = l.tenant
WHERE t.id = %(task_id)s AND l.provider = %(provider)s AND l.model = %(model)s
ON CONFLICT DO NOTHING;

-- name: rate_limit_settle
-- After a call: give back :refund tokens (the estimate taken minus the tokens the call really
-- used; negative when it used more) and :requests requests (1 when no request was made after
-- all), never above the cap; the request taken at :taken_at is no longer in flight.
-- Tenant-blind, by task id as rate_limit_reserve.
UPDATE rate_buckets AS b
SET tokens = least(coalesce(l.tokens_per_minute - least(ceil(l.tokens_per_minute * 0.05)::bigint,
                                                        l.tokens_per_minute - 1), 0)::float8,
                   b.tokens + %(refund)s),
    requests = least(coalesce(l.requests_per_minute
                              - least(ceil(l.requests_per_minute * 0.05)::bigint,
                                      l.requests_per_minute - 1), 0)::float8,
                     b.requests + %(requests)s),
    in_flight = CASE WHEN array_position(b.in_flight, %(taken_at)s::timestamptz) IS NULL
                     THEN b.in_flight
                     ELSE b.in_flight[:array_position(b.in_flight, %(taken_at)s::timestamptz) - 1]
                          || b.in_flight[array_position(b.in_flight, %(taken_at)s::timestamptz)
                                         + 1:] END
FROM rate_limits AS l, tasks AS t
WHERE t.id = %(task_id)s
  AND l.tenant = t.tenant AND l.provider = %(provider)s AND l.model = %(model)s
  AND (b.tenant, b.provider, b.model, b.key_fingerprint)
    = (l.tenant, l.provider, l.model, %(key_fingerprint)s)
RETURNING b.tokens;

-- name: rate_limit_drain
-- The provider answered 429 with Retry-After :retry_after_s: the bucket is emptied and blocked
-- for that long (it refills from then on), so no worker sends to that key and model before.
UPDATE rate_buckets AS b
SET tokens = 0,
    requests = 0,
    refilled_at = greatest(b.refilled_at,
                           outlast_now() + make_interval(secs => %(retry_after_s)s)),
    blocked_until = greatest(coalesce(b.blocked_until, outlast_now()),
                             outlast_now() + make_interval(secs => %(retry_after_s)s))
FROM tasks AS t
WHERE t.id = %(task_id)s
  AND (b.tenant, b.provider, b.model, b.key_fingerprint)
    = (t.tenant, %(provider)s, %(model)s, %(key_fingerprint)s)
RETURNING b.blocked_until;

-- name: rate_limit_set
-- PUT /v1/rate-limits: set tenant :tenant's limits for :provider/:model (null: no limit of
-- that kind). An existing bucket keeps its level, capped at the new limit by the next reserve.
INSERT INTO rate_limits (tenant, provider, model, tokens_per_minute, requests_per_minute,
                         updated_by)
VALUES (%(tenant)s, %(provider)s, %(model)s, %(tokens_per_minute)s, %(requests_per_minute)s,
        %(updated_by)s)
ON CONFLICT (tenant, provider, model) DO UPDATE
SET tokens_per_minute = excluded.tokens_per_minute,
    requests_per_minute = excluded.requests_per_minute,
    updated_by = excluded.updated_by,
    updated_at = clock_timestamp()
RETURNING provider, model;

-- name: rate_limit_list
-- GET /v1/rate-limits and /metrics: tenant :tenant's limits and the level of each bucket now
-- (refilled to this moment, as the next reserve would see it; no write). A limit no call has
-- used yet has no bucket (key_fingerprint null).
SELECT l.provider, l.model, l.tokens_per_minute, l.requests_per_minute, l.updated_at,
       l.updated_by, b.key_fingerprint, b.blocked_until,
       CASE WHEN b.key_fingerprint IS NULL OR l.tokens_per_minute IS NULL THEN NULL
            ELSE floor(least((l.tokens_per_minute
                              - least(ceil(l.tokens_per_minute * 0.05)::bigint,
                                      l.tokens_per_minute - 1))::float8, b.tokens
                 + greatest(0, extract(epoch FROM outlast_now() - b.refilled_at))
                 * l.tokens_per_minute / 60.0))::bigint END AS tokens_available,
       CASE WHEN b.key_fingerprint IS NULL OR l.requests_per_minute IS NULL THEN NULL
            ELSE floor(least((l.requests_per_minute
                              - least(ceil(l.requests_per_minute * 0.05)::bigint,
                                      l.requests_per_minute - 1))::float8, b.requests
                 + greatest(0, extract(epoch FROM outlast_now() - b.refilled_at))
                 * l.requests_per_minute / 60.0))::bigint END AS requests_available
FROM rate_limits AS l
LEFT JOIN rate_buckets AS b
       ON (b.tenant, b.provider, b.model) = (l.tenant, l.provider, l.model)
WHERE l.tenant = %(tenant)s
ORDER BY l.provider, l.model, b.key_fingerprint;
