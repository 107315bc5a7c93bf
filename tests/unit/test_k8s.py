"""The Kubernetes manifests in deploy/k8s, checked by reading them (no cluster runs here):
against the Kubernetes API's own JSON schemas and KEDA's CRD models, offline."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
from cloudcoil.models.keda.v1alpha1 import ScaledObject

from tests.support.deploy import (
    K8S,
    RELEASE_BUDGET_S,
    by_name,
    load,
    manifests,
    shutdown_grace_s,
)

# An example secret would overwrite the real one on every apply, so kustomize leaves it out.
NOT_APPLIED = {"kustomization.yaml", "secret.example.yaml"}
WORKLOADS = {"Deployment", "Job"}
# Kinds kubernetes-validate has no schema for (custom resources), checked below by other means.
CUSTOM = {"ScaledObject"}
# The oldest Kubernetes the manifests are checked against, and the newest the package knows.
KUBERNETES_VERSIONS = ("1.30", kubernetes_validate.latest_version())


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for _, doc in manifests() if doc["kind"] == kind]


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return list(doc["spec"]["template"]["spec"]["containers"])


@pytest.mark.parametrize(
    ("file", "doc"),
    [pytest.param(f, d, id=f"{f}:{d.get('kind')}") for f, d in manifests()],
)
def test_every_document_is_a_named_kubernetes_object(file: str, doc: dict[str, Any]) -> None:
    assert doc.get("apiVersion"), file
    assert doc.get("kind"), file
    assert doc["metadata"].get("name"), file
    assert "namespace" not in doc["metadata"], f"{file}: the namespace is the user's choice"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize(
    ("file", "doc"),
    [pytest.param(f, d, id=f"{f}:{d['kind']}") for f, d in manifests() if d["kind"] not in CUSTOM],
)
def test_objects_match_the_kubernetes_api_schema(
    file: str, doc: dict[str, Any], version: str
) -> None:
    """The API's own schemas, strict: an unknown or misspelt field is an error, as
    `kubectl apply --validate=strict` makes it (kubernetes-validate ships them; no network)."""
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path)
        pytest.fail(f"{file}: {doc['kind']} at /{where}: {exc.message} (Kubernetes {version})")


def test_the_schema_check_catches_a_misspelt_field() -> None:
    worker = by_name("Deployment", "outlast-worker")
    pod = worker["spec"]["template"]["spec"]
    misspelt = {**pod, "terminationGracePeriod": pod["terminationGracePeriodSeconds"]}
    bad = {**worker, "spec": {**worker["spec"], "template": {"spec": misspelt}}}
    with pytest.raises(kubernetes_validate.ValidationError, match="terminationGracePeriod"):
        kubernetes_validate.validate(bad, KUBERNETES_VERSIONS[-1], strict=True)


def keda_round_trip(doc: dict[str, Any]) -> dict[str, Any]:
    """The ScaledObject as KEDA's CRD schema reads it: models generated from KEDA's CRDs
    (cloudcoil-models-keda) check types and required fields; a field the schema does not have is
    dropped (as the API server prunes it), so a round trip that changes the document names it."""
    return ScaledObject.model_validate(doc).model_dump(by_alias=True, exclude_unset=True)


def test_scaled_object_matches_the_keda_crd() -> None:
    scaled = by_name("ScaledObject", "outlast-worker")
    assert keda_round_trip(scaled) == scaled


def test_the_keda_check_catches_a_misspelt_field_and_a_wrong_type() -> None:
    scaled = by_name("ScaledObject", "outlast-worker")
    misspelt = {**scaled, "spec": {**scaled["spec"], "pollingIntervall": 15}}
    assert keda_round_trip(misspelt) != misspelt
    quoted = {**scaled, "spec": {**scaled["spec"], "minReplicaCount": "1"}}
    assert keda_round_trip(quoted) != quoted


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


def test_worker_grace_period_outlasts_the_drain_and_the_release() -> None:
    """Kubernetes sends SIGTERM, then SIGKILL after terminationGracePeriodSeconds. The worker
    lets its tasks run for OUTLAST_SHUTDOWN_GRACE_S (the container's env, else the ConfigMap,
    else the default in outlast/settings.py), then releases what is left: the pod's grace must be
    longer than both, or the kill lands before the release and those attempts count."""
    pod = by_name("Deployment", "outlast-worker")["spec"]["template"]["spec"]
    [worker] = pod["containers"]
    config = by_name("ConfigMap", "outlast-config")["data"]
    own_env = {e["name"]: e.get("value") for e in worker.get("env", []) if "value" in e}
    drain = shutdown_grace_s(config, own_env)
    assert pod["terminationGracePeriodSeconds"] > drain + RELEASE_BUDGET_S


def trigger(name: str) -> dict[str, Any]:
    scaled = by_name("ScaledObject", "outlast-worker")
    return next(t for t in scaled["spec"]["triggers"] if t["name"] == name)


# The postgresql scaler's metadata (KEDA's docs for it): the query, its targets, and the
# connection, either whole from an environment variable of the scaled container or in parts.
POSTGRESQL_METADATA = {
    "query",
    "targetQueryValue",
    "activationTargetQueryValue",
    "connectionFromEnv",
    "host",
    "port",
    "userName",
    "passwordFromEnv",
    "dbName",
    "sslmode",
}


@pytest.mark.parametrize(
    "doc",
    by_name("ScaledObject", "outlast-worker")["spec"]["triggers"],
    ids=lambda t: t["name"],
)
def test_triggers_are_postgresql_scalers_as_keda_documents_them(doc: dict[str, Any]) -> None:
    assert doc["type"] == "postgresql"
    metadata = doc["metadata"]
    assert set(metadata) <= POSTGRESQL_METADATA, set(metadata) - POSTGRESQL_METADATA
    assert float(metadata["targetQueryValue"]) > 0
    assert float(metadata.get("activationTargetQueryValue", "0")) >= 0
    assert doc.get("metricType", "AverageValue") in {"AverageValue", "Value"}
    # KEDA reads the connection string from this variable of the scaled pods' container.
    assert "authenticationRef" in doc or metadata["connectionFromEnv"]
    worker = containers(by_name("Deployment", "outlast-worker"))[0]
    assert metadata["connectionFromEnv"] in {e["name"] for e in worker["env"]}


def test_work_trigger_counts_running_and_ready_tasks_per_worker_slot() -> None:
    work = trigger("work")
    query = work["metadata"]["query"]
    assert "state = 'running'" in query
    assert "state = 'queued'" in query
    assert "run_at <= " in query
    concurrency = by_name("ConfigMap", "outlast-config")["data"]["OUTLAST_WORKER_CONCURRENCY"]
    assert float(work["metadata"]["targetQueryValue"]) == float(concurrency)
    assert work.get("metricType", "AverageValue") == "AverageValue"


def test_age_trigger_scales_in_proportion_to_the_oldest_wait() -> None:
    age = trigger("oldest-ready-age")
    assert age["metricType"] == "Value"
    assert "min(run_at)" in age["metadata"]["query"]


def test_a_worker_stays_up_when_the_triggers_count_only_served_graphs() -> None:
    """The queries count only the graphs running workers announced: with no worker they read 0
    and KEDA would never start one."""
    scaled = by_name("ScaledObject", "outlast-worker")
    filtered = ["FROM workers" in t["metadata"]["query"] for t in scaled["spec"]["triggers"]]
    assert all(filtered)
    assert scaled["spec"]["minReplicaCount"] >= 1
    assert scaled["spec"]["scaleTargetRef"]["name"] == "outlast-worker"


def test_kustomization_lists_every_manifest() -> None:
    [kustomization] = load(K8S / "kustomization.yaml")
    files = {path.name for path in K8S.glob("*.yaml")} - NOT_APPLIED
    assert sorted(kustomization["resources"]) == sorted(files)


def test_configmap_names_only_real_settings() -> None:
    from outlast.settings import Settings

    known = {f"OUTLAST_{name.upper()}" for name in Settings.model_fields}
    data = by_name("ConfigMap", "outlast-config")["data"]
    assert set(data) <= known, set(data) - known
