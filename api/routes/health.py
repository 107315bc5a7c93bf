"""Liveness and readiness, for process managers and load balancers (no /v1: not the API)."""

from __future__ import annotations

import psycopg
from fastapi import APIRouter

from api.deps import PoolDep
from api.problems import ProblemError
from api.schemas import Status

router = APIRouter(tags=["health"])
READY_TIMEOUT_S = 2.0
# Inline, not in db/queries/: a probe, not queue logic. `SELECT 1` proves a round trip;
# to_regclass proves this is a migrated Outlast database, not just any Postgres.
_PROBE = "SELECT 1 AS alive, to_regclass('tasks') IS NOT NULL AS migrated"


@router.get("/healthz", summary="The process is alive (touches no database)")
async def healthz() -> Status:
    return Status(status="ok")


@router.get("/readyz", summary="The database is reachable and migrated")
async def readyz(pool: PoolDep) -> Status:
    try:
        # A short wait: a probe that hangs as long as the pool's default is no probe.
        async with pool.connection(timeout=READY_TIMEOUT_S) as conn:
            row = await (await conn.execute(_PROBE)).fetchone()
    except psycopg.Error as exc:
        raise ProblemError(
            503, "not-ready", "Not ready", f"the database is unreachable ({type(exc).__name__})"
        ) from exc
    if row is None or not row["migrated"]:
        raise ProblemError(
            503,
            "not-ready",
            "Not ready",
            "the tasks table does not exist; run `outlast db migrate`",
        )
    return Status(status="ready")
