"""A task's text artifacts (the `create_text_artifact` tool): listed, and downloaded with the
content type they were stored with. Scope tasks:read; another tenant's task answers 404."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from api.deps import PoolDep, TasksRead
from api.schemas import ArtifactPublic
from db import artifact

router = APIRouter(tags=["artifacts"])
ArtifactName = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$", description="The artifact's name.")
]


@router.get("/v1/tasks/{task_id}/artifacts", summary="A task's artifacts, by name")
async def list_artifacts(
    caller: TasksRead, task_id: uuid.UUID, pool: PoolDep
) -> list[ArtifactPublic]:
    rows = await artifact.list_(pool, task_id, tenant=caller.tenant)
    return [ArtifactPublic.model_validate(row) for row in rows]


@router.get(
    "/v1/tasks/{task_id}/artifacts/{name}",
    summary="Download an artifact",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}, "text/markdown": {}, "text/csv": {},
                                 "application/json": {}}}},
)  # fmt: skip
async def download(
    caller: TasksRead, task_id: uuid.UUID, name: ArtifactName, pool: PoolDep
) -> Response:
    row = await artifact.get(pool, task_id, name, tenant=caller.tenant)
    return Response(
        row["content"].encode(),
        media_type=f"{row['content_type']}; charset=utf-8",
        headers={
            # A model wrote it: never let a browser sniff it into something it may run.
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": f'attachment; filename="{row["name"]}"',
        },
    )
