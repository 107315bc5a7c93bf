"""The deployment files (deploy/k8s, compose.yaml) as tests read them, and the worker's shutdown
budget they must leave room for."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from outlast.settings import Settings

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
COMPOSE = REPO / "compose.yaml"

# What a worker does after OUTLAST_SHUTDOWN_GRACE_S has run out (worker/process.py _drain):
# cancel the runners still going, one release statement per task it holds (at most its
# concurrency, one after another), mark itself stopped, close its pools. Milliseconds each on a
# healthy database; the budget leaves room for a slow one. A worker killed before it has
# released loses nothing: its leases expire and the reaper requeues the tasks, but each of those
# attempts then counts.
RELEASE_BUDGET_S = 10.0


def load(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def manifests() -> list[tuple[str, dict[str, Any]]]:
    """(file name, document) for every object in deploy/k8s, kustomization.yaml aside."""
    return [
        (path.name, doc)
        for path in sorted(K8S.glob("*.yaml"))
        if path.name != "kustomization.yaml"
        for doc in load(path)
    ]


def by_name(kind: str, name: str) -> dict[str, Any]:
    return next(
        doc for _, doc in manifests() if doc["kind"] == kind and doc["metadata"]["name"] == name
    )


def keda_queries() -> dict[str, str]:
    """The worker ScaledObject's queries, by trigger name."""
    scaled = by_name("ScaledObject", "outlast-worker")
    return {t["name"]: t["metadata"]["query"] for t in scaled["spec"]["triggers"]}


def shutdown_grace_s(*sources: dict[str, Any]) -> float:
    """OUTLAST_SHUTDOWN_GRACE_S as a process started with these environment sources would read
    it (later sources win, as a container's `env` wins over its `envFrom`), else the default in
    outlast/settings.py."""
    value: Any = Settings.model_fields["shutdown_grace_s"].default
    for source in sources:
        value = source.get("OUTLAST_SHUTDOWN_GRACE_S", value)
    return float(value)


DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|us|m|s)")
UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6}


def compose_duration_s(text: str) -> float:
    """A compose duration ("30s", "1m30s") in seconds."""
    parts = DURATION_PART.findall(text)
    assert parts and "".join(n + u for n, u in parts) == text, f"not a duration: {text!r}"
    return sum(float(n) * UNIT_S[u] for n, u in parts)
