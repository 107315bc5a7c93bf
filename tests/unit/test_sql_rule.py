"""The queue's one rule for SQL (docs/architecture.md, "Named SQL blocks"), checked from the source.

A block `<stem>_<verb>` lives in db/queries/<stem>.sql and is run by exactly one function of
db/<stem>.py, named `<verb>` (`<verb>_` where the verb is a builtin), which runs no other block.
Outside db/, the processes and the library never name a block; tests and the bench may read a
block's text (`query`, `QUERIES`), and only of a block that exists. Every statement that sets a
task's state is in the state machine (db/states.py). Every worker write (a block that takes the
claimed `epoch`) carries the fence, written once in `lease_fence` between `-- fence:begin` and
`-- fence:end`, byte for byte but for how the epoch is spelled; no statement checks a lease any
other way. No block is dead: its function is used by db/, api/, worker/, reaper/ or outlast/.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from db.sql import QUERY_DIR, parse
from db.states import TRANSITIONS

REPO = Path(__file__).resolve().parents[2]
PRODUCT = ("api", "worker", "reaper", "outlast")  # besides db/ itself
READERS = ("tests", "bench")  # may read a block's text, never run it through their own path
BLOCK_READERS = {"query", "fetch_one", "fetch_all", "call"}  # call: tests/support/observe.py

FENCE = re.compile(r"^[ \t]*-- fence:begin\n(.*?)\n[ \t]*-- fence:end$", re.M | re.S)
FENCE_BY_TRANSACTION = "-- fence: its transaction's lease_fence"
EPOCH = re.compile(r"%\(epoch\)s|\b\w+\.epoch\b")
EPOCH_PARAM = re.compile(r"%\(epochs?\)s")
# A lease check outside the fence: an epoch compared, or an expiry compared as still live.
PASTED_CHECK = re.compile(r"lease_epoch\s*=\s*(?:%\(epoch\)s|\w+\.epoch\b)|lease_expires_at\s*>")
SETS_TASK_STATE = re.compile(
    r"UPDATE tasks\b(?:\s+AS\s+\w+)?\s+SET\b(.*?)\n\s*(?:FROM|WHERE)\b", re.S
)


@dataclass(frozen=True)
class Block:
    name: str
    stem: str
    sql: str


def blocks() -> dict[str, Block]:
    found: dict[str, Block] = {}
    for path in sorted(QUERY_DIR.glob("*.sql")):
        for name, sql in parse(path.read_text()).items():
            found[name] = Block(name, path.stem, sql)
    return found


BLOCKS = blocks()


def python_files(*tops: str) -> Iterator[Path]:
    for top in tops:
        yield from sorted((REPO / top).rglob("*.py"))


def literals_by_function(path: Path) -> Iterator[tuple[str, str, int]]:
    """(enclosing top-level function, block name, line) for every string literal naming a block."""
    tree = ast.parse(path.read_text())
    for top in tree.body:
        owner = top.name if isinstance(top, ast.FunctionDef | ast.AsyncFunctionDef) else "<module>"
        for node in ast.walk(top):
            if isinstance(node, ast.Constant) and node.value in BLOCKS:
                yield owner, node.value, node.lineno


def db_callers() -> dict[str, set[tuple[str, str]]]:
    """Block name -> {(db module, function)} whose body names it."""
    callers: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for path in python_files("db"):
        if "migrations" in path.parts or path.stem == "states":  # states.py names, never runs
            continue
        for function, name, _ in literals_by_function(path):
            callers[name].add((path.stem, function))
    return callers


def verb_of(block: Block) -> str:
    return block.name.removeprefix(f"{block.stem}_")


def test_a_block_is_named_for_its_file() -> None:
    misplaced = [
        f"{b.stem}.sql: {b.name}" for b in BLOCKS.values() if not b.name.startswith(f"{b.stem}_")
    ]
    assert misplaced == []


def test_a_block_is_run_by_one_function_of_its_module_named_for_its_verb() -> None:
    callers = db_callers()
    wrong = []
    for block in BLOCKS.values():
        found = callers.get(block.name, set())
        expected = {(block.stem, verb_of(block)), (block.stem, verb_of(block) + "_")}
        if len(found) != 1 or not found <= expected:
            wrong.append(
                f"{block.name}: run by {sorted(found)}, expected db.{block.stem}.{verb_of(block)}"
            )
    assert wrong == []


def test_a_function_runs_one_block() -> None:
    per_function: dict[tuple[str, str], set[str]] = defaultdict(set)
    for name, found in db_callers().items():
        for caller in found:
            per_function[caller].add(name)
    several = {
        f"db.{m}.{f}": sorted(names) for (m, f), names in per_function.items() if len(names) > 1
    }
    assert several == {}


def test_processes_and_library_never_name_a_block() -> None:
    stray = [
        f"{path.relative_to(REPO)}:{line} {name}"
        for path in python_files(*PRODUCT)
        for _, name, line in literals_by_function(path)
    ]
    assert stray == []


def block_names_read(path: Path) -> Iterator[tuple[str, int]]:
    """Identifier-like literals passed to query/fetch_one/fetch_all or used as QUERIES[...]."""
    for node in ast.walk(ast.parse(path.read_text())):
        args: list[ast.expr] = []
        if isinstance(node, ast.Call):
            func = node.func
            called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if called in BLOCK_READERS:
                args = list(node.args)
        elif isinstance(node, ast.Subscript) and getattr(node.value, "id", "") == "QUERIES":
            args = [node.slice]
        for arg in args:
            if isinstance(arg, ast.Constant) and re.fullmatch(r"[a-z_]+", str(arg.value)):
                yield arg.value, node.lineno


def test_tests_and_bench_read_only_blocks_that_exist() -> None:
    stale = [
        f"{path.relative_to(REPO)}:{line} {name}"
        for path in python_files(*READERS)
        for name, line in block_names_read(path)
        if name not in BLOCKS
    ]
    assert stale == []


def sets_task_state(sql: str) -> bool:
    return any(
        re.search(r"(?:^|,)\s*state\s*=", assignments)
        for assignments in SETS_TASK_STATE.findall(sql)
    )


def test_every_statement_that_sets_a_task_state_is_in_the_state_machine() -> None:
    setters = {b.name for b in BLOCKS.values() if sets_task_state(b.sql)}
    assert setters == {statement for _, _, statement in TRANSITIONS}


def fragments(sql: str) -> list[str]:
    return [
        EPOCH.sub("{epoch}", "\n".join(line.strip() for line in fragment.splitlines()))
        for fragment in FENCE.findall(sql)
    ]


def test_the_fence_is_written_once() -> None:
    (fence,) = fragments(BLOCKS["lease_fence"].sql)
    assert fence.splitlines() == [
        "AND lease_epoch = {epoch}",
        "AND state = 'running'",
        "AND lease_expires_at > outlast_now()",
    ]


def test_every_worker_write_carries_the_fence() -> None:
    (fence,) = fragments(BLOCKS["lease_fence"].sql)
    unfenced = []
    for block in BLOCKS.values():
        if not EPOCH_PARAM.search(block.sql) or FENCE_BY_TRANSACTION in block.sql:
            continue
        if fragments(block.sql) != [fence]:
            unfenced.append(block.name)
    assert unfenced == []


def test_no_statement_checks_a_lease_outside_the_fence() -> None:
    pasted = [b.name for b in BLOCKS.values() if PASTED_CHECK.search(FENCE.sub("", b.sql))]
    assert pasted == []


def used_functions() -> set[tuple[str, str]]:
    """(db module, function) referenced by the product: db/ itself and the processes."""
    used: set[tuple[str, str]] = set()
    for path in python_files("db", *PRODUCT):
        tree = ast.parse(path.read_text())
        modules: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "db":
                modules.update({a.asname or a.name: a.name for a in node.names})
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("db."):
                used.update((node.module.removeprefix("db."), a.name) for a in node.names)  # type: ignore[union-attr]
        in_db = path.parent.name == "db"
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and getattr(node.value, "id", None) in modules:
                used.add((modules[node.value.id], node.attr))  # type: ignore[attr-defined]
            elif in_db and isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                used.add((path.stem, node.id))
    return used


def test_no_block_is_dead() -> None:
    used = used_functions()
    dead = []
    for name, found in db_callers().items():
        if not any(caller in used for caller in found):
            dead.append(name)
    assert sorted(dead) == []


# Statements an API request runs that are tenant-blind by design, and why.
TENANT_BLIND = {
    "key_get": "authentication: the key is looked up by its id to learn its tenant",
    "key_touch": "last_used_at of the key that just authenticated, by its id",
    "schedule_clock": "the database's clock (outlast_now()), no row data",
    "stream_head": "the newest event id: a position in the one id sequence, no row data",
    "stream_ids": "event ids only, to find gaps; the events themselves are read by tenant",
    "transcripts_read": "a task's stored messages, in the tenant of the task row it names, "
    "which the API reads only after finding that task in the caller's tenant",
}


def db_imports(tree: ast.Module) -> dict[str, str]:
    """Local name -> db module, for `from db import x [as y]`."""
    modules: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "db":
            modules.update({a.asname or a.name: a.name for a in node.names})
    return modules


def api_reached() -> set[tuple[str, str]]:
    """(db module, function) an API request can run: named in api/, and whatever db function
    those call in turn."""
    reached: set[tuple[str, str]] = set()
    for path in python_files("api"):
        tree = ast.parse(path.read_text())
        modules = db_imports(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and getattr(node.value, "id", None) in modules:
                reached.add((modules[node.value.id], node.attr))  # type: ignore[attr-defined]
    trees = {p.stem: ast.parse(p.read_text()) for p in python_files("db") if p.parent.name == "db"}
    functions = {
        (stem, node.name): node
        for stem, tree in trees.items()
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    todo = [f for f in reached if f in functions]
    while todo:
        stem, name = todo.pop()
        modules = db_imports(trees[stem])
        for node in ast.walk(functions[(stem, name)]):
            found = None
            if isinstance(node, ast.Name) and (stem, node.id) in functions:
                found = (stem, node.id)
            elif isinstance(node, ast.Attribute) and getattr(node.value, "id", None) in modules:
                found = (modules[node.value.id], node.attr)  # type: ignore[attr-defined]
            if found and found in functions and found not in reached:
                reached.add(found)
                todo.append(found)
    return reached


def test_every_statement_an_api_request_runs_names_the_tenant() -> None:
    reached = api_reached()
    callers = db_callers()
    api_blocks = {name for name, found in callers.items() if found & reached}
    assert {"tasks_get", "waits_decide", "tasks_lock_for_decision"} <= api_blocks  # walked
    blind = sorted(
        name
        for name in api_blocks
        if "%(tenant)s" not in BLOCKS[name].sql and name not in TENANT_BLIND
    )
    assert blind == []
    assert set(TENANT_BLIND) <= api_blocks  # no stale exemption


TENANT_TABLES = (
    "tasks",
    "task_events",
    "task_waits",
    "dead_letters",
    "checkpoint_order",
    "llm_calls",
    "llm_deltas",
    "stream_chunks",
    "agents",
    "agent_versions",
    "api_keys",
    "schedules",
    "schedule_slots",
    "budget_spend",
    "threads",
    "store_items",
)


def test_every_insert_into_a_tenant_table_names_the_tenant() -> None:
    inserts = re.compile(r"INSERT INTO (\w+)(?:\s+AS\s+\w+)?\s*\(([^)]*)\)", re.S)
    missing = [
        f"{block.name}: {table}"
        for block in BLOCKS.values()
        for table, columns in inserts.findall(block.sql)
        if table in TENANT_TABLES and "tenant" not in [c.strip() for c in columns.split(",")]
    ]
    assert missing == []
