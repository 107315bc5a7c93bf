"""api.streams.merge: rows of several sources as each yields, each source's order kept; closing
the merge closes every source (its wake-up subscription ends with it); a failing source's error
reaches the consumer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import pytest

from api.streams import merge
from db.connect import Row


async def test_merge_keeps_each_order_and_closes_its_sources() -> None:
    closed: list[str] = []

    async def source(name: str, n: int) -> AsyncGenerator[Row]:
        try:
            for i in range(n):
                yield {"name": name, "i": i}
                await asyncio.sleep(0)
            await asyncio.Event().wait()  # a live stream: never ends by itself
        finally:
            closed.append(name)

    got: list[tuple[str, Row]] = []
    merged = merge(a=source("a", 3), b=source("b", 2))
    async for item in merged:
        got.append(item)
        if len(got) == 5:
            break
    await merged.aclose()
    assert [row["i"] for kind, row in got if kind == "a"] == [0, 1, 2]
    assert [row["i"] for kind, row in got if kind == "b"] == [0, 1]
    assert sorted(closed) == ["a", "b"]


async def test_a_failing_source_ends_the_merge_with_its_error() -> None:
    async def broken() -> AsyncGenerator[Row]:
        yield {"i": 0}
        raise RuntimeError("boom")

    async def quiet() -> AsyncGenerator[Row]:
        await asyncio.Event().wait()
        yield {}

    merged = merge(one=broken(), two=quiet())
    with pytest.raises(RuntimeError, match="boom"):
        async for _ in merged:
            pass
