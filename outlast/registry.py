"""Graphs registered by import path, under a name, as `langgraph.json` does (`module:attribute`).

The built-in examples are always registered; `OUTLAST_GRAPHS` adds more
(`name=module:attribute,...`). The attribute is a `StateGraph` (compiled by the worker with the
fenced checkpointer) or a compiled graph (its checkpointer is replaced by the fenced one).
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from typing import Any

BUILTIN: dict[str, str] = {
    "pipeline": "outlast.graphs.pipeline:graph",
    "flaky": "outlast.graphs.flaky:graph",
    "expense": "outlast.graphs.expense:graph",
    "intake": "outlast.graphs.intake:graph",
    "chat": "outlast.graphs.chat:graph",
}
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


class RegistryError(ValueError):
    """A malformed OUTLAST_GRAPHS entry, or a graph that cannot be imported."""


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

    @classmethod
    def from_spec(cls, spec: str = "") -> Registry:
        return cls({**BUILTIN, **parse(spec)})

    def names(self) -> list[str]:
        return sorted(self.paths)

    def __contains__(self, name: object) -> bool:
        return name in self.paths

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

    def compiled(self, name: str, checkpointer: Any) -> Any:
        """The graph registered as `name`, runnable, checkpointing through `checkpointer`.
        A builder is compiled once; each call gets a shallow copy bound to its own checkpointer
        (a compiled graph is safe to run concurrently; compiling costs ~0.5 ms a task)."""
        if name not in self._compiled:
            graph = self.load(name)
            self._compiled[name] = graph.compile() if hasattr(graph, "compile") else graph
        return self._compiled[name].copy(update={"checkpointer": checkpointer})

    def describe(self, name: str) -> dict[str, Any]:
        graph = self.load(name)
        compiled = graph.compile() if hasattr(graph, "compile") else graph
        nodes = [n for n in compiled.get_graph().nodes if not n.startswith("__")]
        return {
            "name": name,
            "import_path": self.paths[name],
            "nodes": nodes,
            "description": _module_doc(self.paths[name]),
        }


def _module_doc(path: str) -> str | None:
    module = importlib.import_module(path.partition(":")[0])
    doc = (module.__doc__ or "").strip()
    return doc.split("\n\n", 1)[0].replace("\n", " ") or None
