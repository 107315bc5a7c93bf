"""The public Python API is what docs/python-api.md says: each public module's `__all__` names
exist and are the documented names, and the docs' examples import only public names."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import outlast

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "python-api.md"
DOCS = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


def _documented() -> dict[str, set[str]]:
    """{module: names} from the page's table rows: | `module` | `name`, `name` | what for |"""
    table: dict[str, set[str]] = {}
    for line in PAGE.read_text().splitlines():
        match = re.match(r"^\| `(outlast\.\w+)` \| ([^|]+) \|", line)
        if match:
            table[match.group(1)] = set(re.findall(r"`(\w+)`", match.group(2)))
    return table


PUBLIC = _documented()


def test_the_page_lists_the_public_modules() -> None:
    assert set(PUBLIC) == {
        "outlast.context",
        "outlast.human",
        "outlast.tools",
        "outlast.toolcall",
        "outlast.errors",
        "outlast.client",
        "outlast.models",
        "outlast.agents",
        "outlast.webhooks",
    }


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_all_names_exist_and_are_the_documented_ones(module: str) -> None:
    imported = importlib.import_module(module)
    exported = set(imported.__all__)
    assert exported == PUBLIC[module]
    assert [name for name in sorted(exported) if not hasattr(imported, name)] == []


def test_the_page_accounts_for_every_module_of_the_package() -> None:
    page = PAGE.read_text()
    modules = [f"outlast.{info.name}" for info in pkgutil.iter_modules(outlast.__path__)]
    assert [name for name in modules if f"`{name}" not in page] == []


def _imports_in_docs() -> list[tuple[str, str, str]]:
    """(doc, module, name) for every `from outlast.x import a, b` in the docs' examples."""
    found = []
    for doc in DOCS:
        for module, names in re.findall(r"from (outlast[\w.]*) import ([\w, ]+)", doc.read_text()):
            found += [(doc.name, module, name.strip()) for name in names.split(",")]
    return found


def _names_in_prose() -> list[tuple[str, str, str]]:
    """(doc, module, name) for every `outlast.x.Name` in the docs where x is a public module."""
    found = []
    for doc in DOCS:
        for module, name in re.findall(r"`(outlast\.\w+)\.(\w+)", doc.read_text()):
            if module in PUBLIC:
                found.append((doc.name, module, name))
    return found


def test_the_docs_examples_import_only_public_names() -> None:
    taught = _imports_in_docs()
    assert len(taught) >= 4, "the pattern no longer finds the docs' imports"
    assert [t for t in taught if t[1] not in PUBLIC or t[2] not in PUBLIC[t[1]]] == []


def test_the_docs_prose_names_only_public_names() -> None:
    named = _names_in_prose()
    assert len(named) >= 3, "the pattern no longer finds the docs' names"
    assert [t for t in named if t[2] not in PUBLIC[t[1]]] == []
