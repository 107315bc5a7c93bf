from __future__ import annotations

import pytest

from outlast.registry import Registry, RegistryError, parse


def test_parse_spec() -> None:
    assert parse(" a=pkg.mod:graph , b-2=x:y ") == {"a": "pkg.mod:graph", "b-2": "x:y"}
    assert parse("") == {}


@pytest.mark.parametrize("bad", ["nameonly", "Upper=x:y", "a=x", "a=x:1y", "a=:y"])
def test_malformed_entries_are_refused_with_the_rule(bad: str) -> None:
    with pytest.raises(RegistryError, match="name=module:attribute"):
        parse(bad)


def test_builtins_load_and_describe() -> None:
    registry = Registry.from_spec()
    assert registry.names() == [
        "chat",
        "expense",
        "flaky",
        "intake",
        "outlast.agent",
        "outlast.webhook",
        "pipeline",
    ]
    pipeline = registry.describe("pipeline")
    assert pipeline["nodes"] == [
        "normalize",
        "split_sentences",
        "count_words",
        "extract_keywords",
        "summarize",
        "report",
    ]
    assert pipeline["description"].startswith("A document pipeline")
    assert registry.describe("flaky")["nodes"] == ["prepare", "act", "finish"]


def test_unimportable_graph_is_a_clear_error() -> None:
    registry = Registry.from_spec("ghost=no_such_module:graph")
    with pytest.raises(RegistryError, match="ghost"):
        registry.load("ghost")


def test_runnable_leaves_out_what_cannot_load() -> None:
    """A worker announces and claims only these: a task of a broken graph waits for a worker
    that can load it, instead of being claimed and failed."""
    registry = Registry.from_spec("ghost=no_such_module:graph,odd=outlast.registry:BUILTIN")
    names, broken = registry.runnable()
    assert names == [
        "chat",
        "expense",
        "flaky",
        "intake",
        "outlast.agent",
        "outlast.webhook",
        "pipeline",
    ]
    assert set(broken) == {"ghost", "odd"}
    assert "cannot be loaded" in broken["ghost"] and "neither a graph" in broken["odd"]
