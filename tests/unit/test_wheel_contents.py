"""The wheel holds what users install (outlast and the four packages it runs) and nothing else:
no `bench`, no `tests`. The bench runs from a checkout.

setuptools' `build_py` is the step of `bdist_wheel` that decides which packages and package
data go in; it runs here on a copy of the tree, so the checkout gets no build output. (A full
`pip wheel .` needs setuptools >= 68 from the build backend, which the dev venv may not have.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHIPPED = {"outlast", "api", "worker", "reaper", "db"}
COPIED = [*sorted(SHIPPED), "bench", "tests"]


def _build(tmp_path: Path) -> Path:
    source, out = tmp_path / "src", tmp_path / "lib"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".data")
    for name in COPIED:
        shutil.copytree(REPO / name, source / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    build_py = ["-c", "from setuptools import setup; setup()", "-q", "build_py"]
    subprocess.run(
        [sys.executable, *build_py, "--build-lib", str(out)],
        cwd=source,
        check=True,
        capture_output=True,
    )
    return out


def test_the_wheel_ships_only_the_installed_packages(tmp_path: Path) -> None:
    out = _build(tmp_path)
    assert {path.name for path in out.iterdir()} == SHIPPED
    shipped = {str(path.relative_to(out)) for path in out.rglob("*") if path.is_file()}
    assert "outlast/cli/__main__.py" in shipped  # the operator tooling is installed
    assert {"db/queries/tasks.sql", "db/alembic.ini", "db/migrations/env.py"} <= shipped


def test_the_bench_runs_from_the_checkout_and_mypy_still_checks_it() -> None:
    env = {**os.environ, "BENCH_SCALE": "not-a-number"}  # refused before any server starts
    run = subprocess.run(
        [sys.executable, "-m", "bench"], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert (run.returncode, run.stderr.strip()) == (
        2,
        "bench: bad configuration: BENCH_SCALE='not-a-number': expected a number",
    )
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "bench" in config["tool"]["mypy"]["packages"]
