"""One error tree: every exception class our shipped packages define descends from OutlastError
(or is listed below with the reason it stays out), and the tree drawn in db/errors.py's
docstring is the tree the classes form."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from types import ModuleType

import pytest

import db.errors
import outlast.errors
from db.errors import OutlastError

PACKAGES = ("outlast", "api", "worker", "reaper", "db")
# Running these executes a process or a migration environment, not a definition.
SKIPPED = re.compile(r"(^|\.)__main__$|^db\.migrations(\.|$)")

# Exceptions we define that a user never catches, so they stay outside the tree on purpose.
OUTSIDE: dict[str, str] = {
    "api.problems.ProblemError": (
        "the API's control flow inside a request: its handler turns it into the problem+json "
        "response; a caller never sees it (the client raises ApiError instead)"
    ),
    "api.body._Disconnected": "private: the client left while its body was read; nothing answers",
    "outlast.graphs.flaky.FlakyError": (
        "the example graph's stand-in for an arbitrary failure of user code, which must look "
        "like any retryable exception rather than one of ours"
    ),
}


def _modules() -> list[ModuleType]:
    found = []
    for name in PACKAGES:
        package = importlib.import_module(name)
        found.append(package)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{name}."):
            if not SKIPPED.search(info.name):
                found.append(importlib.import_module(info.name))
    return found


def _defined_exceptions() -> dict[str, type[BaseException]]:
    """Every exception class defined (not just imported) in our modules, by qualified name."""
    return {
        f"{module.__name__}.{cls.__qualname__}": cls
        for module in _modules()
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, BaseException) and cls.__module__ == module.__name__
    }


def _drawn_tree() -> dict[str, str | None]:
    """{class name: parent name} from the ASCII tree in db/errors.py's docstring: the block
    from the line `OutlastError` to the next blank line; a name's column gives its depth."""
    doc = (db.errors.__doc__ or "").splitlines()
    block = doc[doc.index("OutlastError") :]
    block = block[: block.index("")] if "" in block else block
    parents: dict[str, str | None] = {}
    path: list[str] = []
    for line in block:
        match = re.match(r"^((?:[│ ]   )*[├└]── )?([A-Z]\w*)\b", line)
        if match is None or (match.group(1) is None and path):
            continue  # a description running on from the line above
        depth = len(match.group(1) or "") // 4
        path[depth:] = [match.group(2)]
        parents[match.group(2)] = path[depth - 1] if depth else None
    return parents


def test_the_walk_finds_the_known_exceptions() -> None:
    found = _defined_exceptions()
    assert {"db.errors.LeaseLost", "db.errors.ApiError", "api.problems.ProblemError"} <= set(found)


def test_every_exception_we_define_is_in_the_tree_or_listed_with_a_reason() -> None:
    found = _defined_exceptions()
    outside = {name for name, cls in found.items() if not issubclass(cls, OutlastError)}
    assert outside == set(OUTSIDE), "descend from db.errors.OutlastError, or list it in OUTSIDE"


def test_the_drawing_is_the_tree_the_classes_form() -> None:
    drawn = _drawn_tree()
    assert drawn["OutlastError"] is None
    for name, parent in drawn.items():
        cls = getattr(db.errors, name)
        if parent is not None:
            assert getattr(db.errors, parent) in cls.__bases__, f"{name} is not under {parent}"
    defined_here = {
        name
        for name, cls in vars(db.errors).items()
        if inspect.isclass(cls) and issubclass(cls, OutlastError)
    }
    assert set(drawn) == defined_here


def test_every_error_in_the_tree_is_defined_in_db_errors() -> None:
    """One module defines the tree, so one drawing can show all of it."""
    found = _defined_exceptions()
    in_tree = {name for name, cls in found.items() if issubclass(cls, OutlastError)}
    assert {name.rpartition(".")[0] for name in in_tree} == {"db.errors"}


def test_outlast_errors_exports_the_whole_tree() -> None:
    assert set(outlast.errors.__all__) == set(_drawn_tree())
    for name in outlast.errors.__all__:
        assert getattr(outlast.errors, name) is getattr(db.errors, name)


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("outlast.errors", "NonRetryable"),
        ("outlast.client", "ApiError"),
        ("outlast.registry", "RegistryError"),
        ("worker.executor", "TaskTimeout"),
    ],
)
def test_errors_stay_importable_where_users_import_them(module: str, name: str) -> None:
    cls = getattr(importlib.import_module(module), name)
    assert cls is getattr(db.errors, name)
    assert issubclass(cls, OutlastError)


def test_registry_error_is_still_a_value_error() -> None:
    assert issubclass(db.errors.RegistryError, ValueError)
