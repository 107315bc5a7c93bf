"""Threads of the LangGraph Platform API (ADR 0018, 0028): create, read, search, count, update,
copy, delete, and a thread's state (now, at a checkpoint, its history, an update). A thread's
runs are tasks submitted on it; its state is its newest run's last checkpoint."""

from __future__ import annotations

import contextlib
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from langgraph.constants import END

from api.deps import PoolDep, RegistryDep, SettingsDep, TasksRead, TasksWrite
from api.platform import (
    HistoryQuery,
    StateAt,
    StateUpdate,
    ThreadCount,
    ThreadCreate,
    ThreadPublic,
    ThreadSearch,
    ThreadUpdate,
    checkpoint_state,
    conflict,
    settled,
    thread_history,
    thread_public,
    thread_status,
)
from api.platform import thread_state as read_state
from api.problems import invalid
from db import run, tasks, thread
from db.errors import Conflict
from db.tasks import NewTask, state_update_input
from outlast.registry import Registry

router = APIRouter(tags=["langgraph"])
HUMAN_WAITS = ("waiting_for_approval", "waiting_for_input")
# `{thread_id:uuid}` where a GET or DELETE would also match `/threads/search` (a POST): that path
# is then a 405, as it should be, not a 422 on a thread id "search".


@router.post("/threads", summary="Create a thread")
async def create_thread(caller: TasksWrite, body: ThreadCreate, pool: PoolDep) -> ThreadPublic:
    """With `thread_id` of an existing thread: 409, or that thread with `if_exists=do_nothing`
    (when it is the caller's)."""
    row = await thread.insert(
        pool, tenant=caller.tenant, thread_id=body.thread_id, metadata=body.metadata or {}
    )
    if row is not None:
        return thread_public({**row, "open_states": [], "last_state": None})
    if body.thread_id is not None and body.if_exists == "do_nothing":
        return thread_public(await thread.get(pool, body.thread_id, tenant=caller.tenant))
    raise conflict(f"thread {body.thread_id} already exists")


@router.get("/threads/{thread_id:uuid}", summary="One thread, with its state's values")
async def get_thread(
    caller: TasksRead, thread_id: uuid.UUID, pool: PoolDep, registry: RegistryDep
) -> ThreadPublic:
    row = await thread.get(pool, thread_id, tenant=caller.tenant)
    state = await read_state(pool, registry, thread_id, tenant=caller.tenant)
    return thread_public(row, state)


@router.post("/threads/search", summary="Search threads, newest first")
async def search_threads(
    caller: TasksRead, body: ThreadSearch, pool: PoolDep, registry: RegistryDep
) -> list[ThreadPublic]:
    """By metadata (contains) and status. `values` and `interrupts` are left out (read one
    thread for them), except for an interrupted thread: Agent Inbox lists those from here."""
    rows = await thread.search(
        pool,
        tenant=caller.tenant,
        metadata=body.metadata or {},
        status=body.status,
        limit=body.limit,
        offset=body.offset,
    )
    return [
        thread_public(
            row,
            await read_state(pool, registry, row["id"], tenant=caller.tenant)
            if thread_status(row) == "interrupted"
            else None,
        )
        for row in rows
    ]


@router.patch("/threads/{thread_id:uuid}", summary="Merge metadata into a thread's")
async def update_thread(
    caller: TasksWrite,
    thread_id: uuid.UUID,
    body: ThreadUpdate,
    pool: PoolDep,
    registry: RegistryDep,
) -> ThreadPublic:
    """The keys of `metadata` replace the thread's of those names; the others stay."""
    await thread.update(pool, thread_id, tenant=caller.tenant, metadata=body.metadata)
    return await get_thread(caller, thread_id, pool, registry)


@router.post("/threads/count", summary="Count threads")
async def count_threads(caller: TasksRead, body: ThreadCount, pool: PoolDep) -> int:
    """By metadata (contains) and status, as /threads/search; a `values` filter is not served."""
    if body.values:
        raise invalid("body.values", "not_served", "threads are not counted by their values")
    return await thread.count(
        pool, tenant=caller.tenant, metadata=body.metadata or {}, status=body.status
    )


@router.post("/threads/{thread_id}/copy", summary="Copy a thread: its metadata, state, history")
async def copy_thread(
    caller: TasksWrite, thread_id: uuid.UUID, pool: PoolDep, registry: RegistryDep
) -> ThreadPublic:
    """A new thread whose state and history are the source's at this moment, and whose next run
    continues from its state (ADR 0028). The copy's checkpoints are under one task on it, which
    a worker completes without running a node: until then the copy is `busy`."""
    made = await thread.copy(pool, thread_id, tenant=caller.tenant)
    return await get_thread(caller, made["id"], pool, registry)


@router.delete("/threads/{thread_id:uuid}", status_code=204, summary="Delete a thread")
async def delete_thread(caller: TasksWrite, thread_id: uuid.UUID, pool: PoolDep) -> Response:
    """409 while a run on it is unfinished; its finished runs stay, as tasks of their own."""
    try:
        await thread.delete(pool, thread_id, tenant=caller.tenant)
    except Conflict as exc:
        raise conflict(str(exc)) from None
    return Response(status_code=204)


@router.get(
    "/threads/{thread_id}/state", summary="A thread's state: its newest run's last checkpoint"
)
async def get_state(
    caller: TasksRead, thread_id: uuid.UUID, pool: PoolDep, registry: RegistryDep
) -> dict[str, Any]:
    """Values, next nodes, tasks with their interrupts, and the checkpoint (ADR 0018)."""
    await thread.get(pool, thread_id, tenant=caller.tenant)
    state = await read_state(pool, registry, thread_id, tenant=caller.tenant)
    state.pop("interrupts_by_task", None)
    return state


@router.get(
    "/threads/{thread_id}/state/{checkpoint_id}", summary="A thread's state at a checkpoint"
)
async def get_state_at(
    caller: TasksRead,
    thread_id: uuid.UUID,
    checkpoint_id: Annotated[str, Path(min_length=1, max_length=100)],
    pool: PoolDep,
    registry: RegistryDep,
) -> dict[str, Any]:
    """The state at a checkpoint of any run on the thread; 404 for a checkpoint of none."""
    state = await checkpoint_state(pool, registry, thread_id, checkpoint_id, tenant=caller.tenant)
    state.pop("interrupts_by_task", None)
    return state


@router.post(
    "/threads/{thread_id}/state/checkpoint", summary="A thread's state at a checkpoint (by body)"
)
async def post_state_at(
    caller: TasksRead, thread_id: uuid.UUID, body: StateAt, pool: PoolDep, registry: RegistryDep
) -> dict[str, Any]:
    """As GET /threads/{id}/state/{checkpoint_id}, for `checkpoint.checkpoint_id`; a
    subgraph's namespace (`checkpoint_ns`) is not served."""
    checkpoint_id = body.checkpoint.get("checkpoint_id")
    if not isinstance(checkpoint_id, str) or not checkpoint_id:
        raise invalid("body.checkpoint.checkpoint_id", "required", "a checkpoint_id is needed")
    if body.checkpoint.get("checkpoint_ns"):
        raise invalid("body.checkpoint.checkpoint_ns", "root_only", "only the root is served")
    return await get_state_at(caller, thread_id, checkpoint_id, pool, registry)


@router.post("/threads/{thread_id}/history", summary="A thread's states, newest first")
async def get_history(
    caller: TasksRead,
    thread_id: uuid.UUID,
    body: HistoryQuery,
    pool: PoolDep,
    registry: RegistryDep,
) -> list[dict[str, Any]]:
    """Across its runs, newest first; `before` (a checkpoint id, or a checkpoint) keeps the
    states older than it, `metadata` those whose checkpoint metadata holds it."""
    await thread.get(pool, thread_id, tenant=caller.tenant)
    states = await thread_history(
        pool,
        registry,
        thread_id,
        tenant=caller.tenant,
        limit=body.limit,
        before=body.before_id(),
        metadata=body.metadata,
    )
    for state in states:
        state.pop("interrupts_by_task", None)
    return states


@router.post("/threads/{thread_id}/state", summary="Update a thread's state")
async def update_state(
    caller: TasksWrite,
    thread_id: uuid.UUID,
    body: StateUpdate,
    request: Request,
    pool: PoolDep,
    settings: SettingsDep,
    registry: RegistryDep,
) -> dict[str, Any]:
    """Apply `values` (through the graph's reducers, as LangGraph's update_state does) on top of
    the thread's state. It is a task on the thread, queued behind its runs and applied by a
    worker under its lease (fenced, like every checkpoint write), that runs no node; the answer
    waits for it. 409 when the thread has no run yet (no graph to update). With `as_node` (a
    node of the graph, else 422) the values are applied as that node's writes, so the thread's
    next nodes are its successors; without, as the node that wrote last."""
    await thread.get(pool, thread_id, tenant=caller.tenant)
    if body.as_node == END and not body.values:
        return await _end_the_wait(caller, thread_id, pool, registry)
    head = await run.head(pool, thread_id, tenant=caller.tenant)
    if head is None:
        raise conflict(f"thread {thread_id} has no run yet: no graph state to update")
    if body.as_node is not None and body.as_node not in _nodes(registry, head["graph"]):
        raise invalid(
            "body.as_node", "node_of_graph", f"{head['graph']!r} has no node of that name"
        )
    new = NewTask(
        graph=head["graph"],
        input=state_update_input(body.as_node),
        metadata={"outlast": "update_state"},
        max_attempts=settings.default_max_attempts,
        thread_id=thread_id,
        resume_patch=body.values or {},
    )
    row, _ = await tasks.insert(pool, new, tenant=caller.tenant)
    done = await settled(request, pool, row["id"], tenant=caller.tenant)
    if done["state"] != "completed":
        raise conflict(f"the state update ended {done['state']}: {done['error']}")
    state = await read_state(pool, registry, thread_id, tenant=caller.tenant)
    return {"checkpoint": state["checkpoint"]}


async def _end_the_wait(
    caller: TasksWrite, thread_id: uuid.UUID, pool: PoolDep, registry: RegistryDep
) -> dict[str, Any]:
    """`values=None, as_node="__end__"`, Agent Inbox's "ignore" of an interrupted thread: the
    thread's waiting runs are cancelled (their waits leave /v1/approvals), so the thread is
    done with them; its state stays the last checkpoint. 409 when no run waits."""
    waiting = await run.list_(
        pool, thread_id, tenant=caller.tenant, limit=1000, offset=0, states=list(HUMAN_WAITS)
    )
    if not waiting:
        raise conflict(f"thread {thread_id} has no interrupted run to end")
    for task in waiting:
        with contextlib.suppress(Conflict):  # decided or cancelled meanwhile
            await tasks.cancel(
                pool, task["id"], tenant=caller.tenant, reason="ended by update_state(__end__)"
            )
    state = await read_state(pool, registry, thread_id, tenant=caller.tenant)
    return {"checkpoint": state["checkpoint"]}


def _nodes(registry: Registry, graph: str) -> set[str]:
    """The graph's node names (none for a graph this API process cannot load)."""
    if graph not in registry:
        return set()
    return set(registry.compiled(graph, None).nodes)
