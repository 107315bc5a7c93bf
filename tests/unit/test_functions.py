"""Function tasks: what may be registered, how it is called, how it is described."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from outlast.context import TaskContext
from outlast.functions import TaskFunction
from outlast.jsonsafe import dumps
from outlast.registry import Registry, RegistryError

CONTEXT = TaskContext(uuid.uuid4(), attempt=2, run=5)


async def one(task_input: dict[str, Any]) -> int:
    return len(task_input)


def two(task_input: dict[str, Any], task: TaskContext) -> int:
    return task.attempt


def three(a: Any, b: Any, c: Any) -> None: ...


def with_default(task_input: dict[str, Any], task: Any = None, extra: int = 1) -> int:
    return extra


not_callable = 42


async def test_async_and_sync_functions_are_called_with_what_they_take() -> None:
    assert await TaskFunction.wrap(one).call({"a": 1, "b": 2}, CONTEXT) == 2
    assert await TaskFunction.wrap(two).call({}, CONTEXT) == 2  # sync: in a thread
    assert await TaskFunction.wrap(with_default).call({}, CONTEXT) == 1


def test_a_function_of_three_required_arguments_is_refused() -> None:
    with pytest.raises(TypeError, match=r"takes \(input\) or \(input, task"):
        TaskFunction.wrap(three)


def registry(**paths: str) -> Registry:
    return Registry({name: f"tests.unit.test_functions:{attr}" for name, attr in paths.items()})


def test_registry_tells_functions_from_graphs() -> None:
    reg = Registry.from_spec("one=tests.unit.test_functions:one")
    function = reg.function("one")
    assert function is not None and function.is_async and not function.takes_context
    assert reg.function("pipeline") is None
    assert reg.describe("one") == {
        "name": "one",
        "kind": "function",
        "import_path": "tests.unit.test_functions:one",
        "nodes": [],
        "description": "Function tasks: what may be registered, how it is called, how it is "
        "described.",
    }
    assert reg.describe("pipeline")["kind"] == "graph"


@pytest.mark.parametrize("attr", ["three", "not_callable"])
def test_registry_names_an_unusable_entry(attr: str) -> None:
    with pytest.raises(RegistryError, match=f"task 'bad' \\(tests.unit.test_functions:{attr}\\)"):
        registry(bad=attr).function("bad")


def test_dumps_replaces_nul_but_not_an_escaped_backslash_before_u0000() -> None:
    assert dumps({"a": "x\x00y"}) == '{"a": "x\ufffdy"}'
    assert dumps({"b": "\\u0000"}) == '{"b": "\\\\u0000"}'  # the six characters \u0000, kept
    assert dumps({"c": "\\\x00"}) == '{"c": "\\\\\ufffd"}'
    assert dumps({"d": {1, 2}}) == '{"d": [1, 2]}'
