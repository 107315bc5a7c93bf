"""The Kubernetes manifests in deploy/k8s, checked by reading them (no cluster runs here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
# An example secret would overwrite the real one on every apply, so kustomize leaves it out.
NOT_APPLIED = {"kustomization.yaml", "secret.example.yaml"}
WORKLOADS = {"Deployment", "Job"}


def load(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def manifests() -> list[tuple[str, dict[str, Any]]]:
    return [
        (path.name, doc)
        for path in sorted(K8S.glob("*.yaml"))
        if path.name != "kustomization.yaml"
        for doc in load(path)
    ]


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for _, doc in manifests() if doc["kind"] == kind]


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return list(doc["spec"]["template"]["spec"]["containers"])


def by_name(kind: str, name: str) -> dict[str, Any]:
    return next(doc for doc in of_kind(kind) if doc["metadata"]["name"] == name)


@pytest.mark.parametrize(
    ("file", "doc"),
    [pytest.param(f, d, id=f"{f}:{d.get('kind')}") for f, d in manifests()],
)
def test_every_document_is_a_named_kubernetes_object(file: str, doc: dict[str, Any]) -> None:
    assert doc.get("apiVersion"), file
    assert doc.get("kind"), file
    assert doc["metadata"].get("name"), file
    assert "namespace" not in doc["metadata"], f"{file}: the namespace is the user's choice"


def test_the_expected_objects_exist() -> None:
    kinds = {(doc["kind"], doc["metadata"]["name"]) for _, doc in manifests()}
    assert {
        ("ConfigMap", "outlast-config"),
        ("Secret", "outlast-database"),
        ("Job", "outlast-migrate"),
        ("Deployment", "outlast-api"),
        ("Service", "outlast-api"),
        ("Deployment", "outlast-reaper"),
        ("Deployment", "outlast-worker"),
        ("ScaledObject", "outlast-worker"),
    } <= kinds


@pytest.mark.parametrize("doc", of_kind("Deployment"), ids=lambda d: d["metadata"]["name"])
def test_deployment_selector_matches_its_pod_labels(doc: dict[str, Any]) -> None:
    selector = doc["spec"]["selector"]["matchLabels"]
    labels = doc["spec"]["template"]["metadata"]["labels"]
    assert selector
    assert selector.items() <= labels.items()


@pytest.mark.parametrize(
    "doc",
    [d for _, d in manifests() if d["kind"] in WORKLOADS],
    ids=lambda d: d["metadata"]["name"],
)
def test_containers_have_an_image_a_command_and_the_database_url(doc: dict[str, Any]) -> None:
    for container in containers(doc):
        assert container["image"].startswith("outlast:")
        assert container["command"][0] == "outlast"
        env = {e["name"]: e for e in container.get("env", [])}
        assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "outlast-database"
        sources = [s["configMapRef"]["name"] for s in container.get("envFrom", [])]
        assert sources == ["outlast-config"]


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("outlast-api", ["outlast", "api"]),
        ("outlast-reaper", ["outlast", "reaper"]),
        ("outlast-worker", ["outlast", "worker"]),
    ],
)
def test_deployment_commands(name: str, command: list[str]) -> None:
    assert containers(by_name("Deployment", name))[0]["command"][:2] == command


def test_migrate_job_runs_the_migration() -> None:
    job = by_name("Job", "outlast-migrate")
    assert containers(job)[0]["command"] == ["outlast", "db", "migrate"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] in ("OnFailure", "Never")


def test_api_probes_and_service() -> None:
    api = containers(by_name("Deployment", "outlast-api"))[0]
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    service = by_name("Service", "outlast-api")
    pod_labels = by_name("Deployment", "outlast-api")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()


def test_worker_has_time_to_release_its_tasks_on_sigterm() -> None:
    worker = by_name("Deployment", "outlast-worker")["spec"]["template"]["spec"]
    grace = int(by_name("ConfigMap", "outlast-config")["data"]["OUTLAST_SHUTDOWN_GRACE_S"])
    assert worker["terminationGracePeriodSeconds"] >= 30
    assert worker["terminationGracePeriodSeconds"] > grace


def test_scaled_object_scales_the_workers_on_queue_depth() -> None:
    scaled = by_name("ScaledObject", "outlast-worker")
    assert scaled["apiVersion"].startswith("keda.sh/")
    assert scaled["spec"]["scaleTargetRef"]["name"] == "outlast-worker"
    [trigger] = scaled["spec"]["triggers"]
    assert trigger["type"] == "postgresql"
    metadata = trigger["metadata"]
    assert "FROM tasks" in metadata["query"]
    assert "'queued'" in metadata["query"]
    assert float(metadata["targetQueryValue"]) > 0
    # KEDA reads the connection string from this variable of the scaled pods' container.
    worker = containers(by_name("Deployment", "outlast-worker"))[0]
    assert metadata["connectionFromEnv"] in {e["name"] for e in worker["env"]}


def test_kustomization_lists_every_manifest() -> None:
    [kustomization] = load(K8S / "kustomization.yaml")
    files = {path.name for path in K8S.glob("*.yaml")} - NOT_APPLIED
    assert sorted(kustomization["resources"]) == sorted(files)


def test_configmap_names_only_real_settings() -> None:
    from outlast.settings import Settings

    known = {f"OUTLAST_{name.upper()}" for name in Settings.model_fields}
    data = by_name("ConfigMap", "outlast-config")["data"]
    assert set(data) <= known, set(data) - known
