"""What routes receive by injection: the pool, the settings and the graph registry, all built
once by the app's lifespan (api.app) and kept on `app.state`; and the caller.

Every route but /healthz and /readyz takes exactly one of the scope aliases below (TasksRead,
TasksWrite, ...): the one dependency `authorize` checks the key, then the scope, then the
rate (api.access). The OpenAPI document lists each route's scope under `security`, which is
where tests/integration/test_api_access.py reads it from.
"""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes

from api.access import Access, Principal, presented_key
from db.connect import Pool
from outlast.registry import Registry
from outlast.settings import Settings


def get_pool(request: Request) -> Pool:
    return cast(Pool, request.app.state.pool)


def get_settings(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


def get_registry(request: Request) -> Registry:
    return cast(Registry, request.app.state.registry)


PoolDep = Annotated[Pool, Depends(get_pool)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
RegistryDep = Annotated[Registry, Depends(get_registry)]

# auto_error off: a missing or non-Bearer header reaches `authorize`, which answers 401 as
# problem+json with WWW-Authenticate (FastAPI's own answer would be a bare 403).
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key, `olk_<id>_<secret>` (outlast keys create).",
)


async def authorize(
    required: SecurityScopes,
    request: Request,
    pool: PoolDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The caller, once its key is live, holds the route's scope, and is within its rate."""
    access = cast(Access, request.app.state.access)
    principal = await access.authenticate(pool, presented_key(request, credentials))
    access.check(principal, required.scopes)
    request.state.key_id = principal.key_id  # for the access log
    return principal


TasksRead = Annotated[Principal, Security(authorize, scopes=["tasks:read"])]
TasksWrite = Annotated[Principal, Security(authorize, scopes=["tasks:write"])]
ApprovalsDecide = Annotated[Principal, Security(authorize, scopes=["approvals:decide"])]
DeadLettersOperate = Annotated[Principal, Security(authorize, scopes=["dead-letters:operate"])]
AgentsAdmin = Annotated[Principal, Security(authorize, scopes=["agents:admin"])]
MetricsRead = Annotated[Principal, Security(authorize, scopes=["metrics:read"])]
Admin = Annotated[Principal, Security(authorize, scopes=["admin"])]
