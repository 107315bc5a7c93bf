"""What routes receive by injection: the pool, the settings and the graph registry, all built
once by the app's lifespan (api.app) and kept on `app.state`."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

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
