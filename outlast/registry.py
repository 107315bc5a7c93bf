"""Graphs registered by import path, under a name, as `langgraph.json` does (`module:attribute`).

The built-in examples are always registered; `OUTLAST_GRAPHS` adds more
(`name=module:attribute,...`). The attribute is a `StateGraph` (compiled by the worker with the
fenced checkpointer), a compiled graph (its checkpointer is replaced by the fenced one), or a
plain function: a function task (outlast/functions.py), run without a graph or checkpoints.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from typing import Any

from outlast.errors import RegistryError as RegistryError  # still importable from here
from outlast.functions import TaskFunction, is_graph

BUILTIN: dict[str, str] = {
    "pipeline": "outlast.graphs.pipeline:graph",
    "flaky": "outlast.graphs.flaky:graph",
    "expense": "outlast.graphs.expense:graph",
    "intake": "outlast.graphs.intake:graph",
    "chat": "outlast.graphs.chat:graph",
    # The built-in agent graph: what a task submitted to an agent runs when the agent names no
    # graph of its own. Its name has a dot, which OUTLAST_GRAPHS names cannot: no user graph
    # takes it.
    "outlast.agent": "outlast.graphs.agent:graph",
    # A webhook delivery (outlast/webhooks.py): a function task the reaper's dispatcher submits
    # and the worker runs with its own sender, which reads the webhook's secret (ADR 0020).
    "outlast.webhook": "outlast.webhooks:deliver",
}
AGENT_GRAPH = "outlast.agent"
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def parse(spec: str) -> dict[str, str]:
    """`name=module:attr,name2=module2:attr2` -> {name: path}; raises RegistryError."""
    graphs: dict[str, str] = {}
    for entry in filter(None, (part.strip() for part in spec.split(","))):
        name, sep, path = entry.partition("=")
        name, path = name.strip(), path.strip()
        if not sep or not _NAME.match(name) or not _PATH.match(path):
            raise RegistryError(
                f"OUTLAST_GRAPHS entry {entry!r} must look like name=module:attribute "
                "(name: lowercase letters, digits, - or _)"
            )
        graphs[name] = path
    return graphs


@dataclass
class Registry:
    paths: dict[str, str]
    _loaded: dict[str, Any] = field(default_factory=dict, repr=False)
    _compiled: dict[str, Any] = field(default_factory=dict, repr=False)
    _functions: dict[str, TaskFunction | None] = field(default_factory=dict, repr=False)

    @classmethod
    def from_spec(cls, spec: str = "") -> Registry:
        return cls({**BUILTIN, **parse(spec)})

    def names(self) -> list[str]:
        return sorted(self.paths)

    def __contains__(self, name: object) -> bool:
        return name in self.paths

    def runnable(self) -> tuple[list[str], dict[str, str]]:
        """The names that load (import, and are a graph or a function), and why each of the
        others does not. A worker announces and claims only the first: a task of a graph it
        cannot load waits for a worker that can, instead of failing here."""
        names: list[str] = []
        broken: dict[str, str] = {}
        for name in self.names():
            try:
                self.function(name)
            except RegistryError as exc:
                broken[name] = str(exc)
            else:
                names.append(name)
        return names, broken

    def load(self, name: str) -> Any:
        """The graph object registered as `name` (imported once)."""
        if name not in self._loaded:
            module_name, _, attribute = self.paths[name].partition(":")
            try:
                module = importlib.import_module(module_name)
                self._loaded[name] = getattr(module, attribute)
            except (ImportError, AttributeError) as exc:
                raise RegistryError(
                    f"graph {name!r} ({self.paths[name]}) cannot be loaded: {exc}"
                ) from exc
        return self._loaded[name]

    def function(self, name: str) -> TaskFunction | None:
        """The function registered as `name`, or None when `name` is a graph."""
        if name not in self._functions:
            target = self.load(name)
            if is_graph(target):
                self._functions[name] = None
            elif callable(target):
                try:
                    self._functions[name] = TaskFunction.wrap(target)
                except (TypeError, ValueError) as exc:
                    raise RegistryError(f"task {name!r} ({self.paths[name]}): {exc}") from exc
            else:
                raise RegistryError(
                    f"task {name!r} ({self.paths[name]}) is neither a graph nor a function"
                )
        return self._functions[name]

    def compiled(self, name: str, checkpointer: Any, store: Any = None) -> Any:
        """The graph registered as `name`, runnable, checkpointing through `checkpointer`.
        A builder is compiled once; each call gets a shallow copy bound to its own checkpointer
        (a compiled graph is safe to run concurrently; compiling costs ~0.5 ms a task), and to
        `store` unless the graph was compiled with a store of its own."""
        if name not in self._compiled:
            graph = self.load(name)
            self._compiled[name] = graph.compile() if hasattr(graph, "compile") else graph
        compiled = self._compiled[name]
        update: dict[str, Any] = {"checkpointer": checkpointer}
        if store is not None and getattr(compiled, "store", None) is None:
            update["store"] = store
        return compiled.copy(update=update)

    def describe(self, name: str) -> dict[str, Any]:
        function = self.function(name)
        if function is not None:
            kind, nodes = "function", []
            description = _first_paragraph(function.fn.__doc__)
        else:
            graph = self.load(name)
            compiled = graph.compile() if hasattr(graph, "compile") else graph
            kind = "graph"
            nodes = [n for n in compiled.get_graph().nodes if not n.startswith("__")]
            description = None
        return {
            "name": name,
            "kind": kind,
            "import_path": self.paths[name],
            "nodes": nodes,
            "description": description or _module_doc(self.paths[name]),
        }


def _module_doc(path: str) -> str | None:
    return _first_paragraph(importlib.import_module(path.partition(":")[0]).__doc__)


def _first_paragraph(doc: str | None) -> str | None:
    return (doc or "").strip().split("\n\n", 1)[0].replace("\n", " ") or None
