"""compose.yaml, checked by reading it: no Docker engine runs here (SPEC.md section 2). It is
validated against the compose specification's JSON schema, as check-jsonschema ships it."""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

import jsonschema
import pytest
import yaml

from tests.support.deploy import (
    COMPOSE,
    RELEASE_BUDGET_S,
    compose_duration_s,
    shutdown_grace_s,
)

APP_SERVICES = ("migrate", "api", "reaper", "worker")
COMPOSE_SPEC = files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json")


@pytest.fixture(scope="module")
def spec() -> jsonschema.protocols.Validator:
    schema = json.loads(COMPOSE_SPEC.read_text())
    validator = jsonschema.validators.validator_for(schema)
    validator.check_schema(schema)
    return validator(schema)


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE.read_text())
    return dict(document["services"])


def test_compose_file_matches_the_compose_specification(
    spec: jsonschema.protocols.Validator,
) -> None:
    document = yaml.safe_load(COMPOSE.read_text())  # anchors and `<<` merges resolved
    problems = [
        f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in spec.iter_errors(document)
    ]
    assert not problems, problems


def test_the_specification_catches_a_misspelt_key(spec: jsonschema.protocols.Validator) -> None:
    document = yaml.safe_load(COMPOSE.read_text())
    document["services"]["worker"]["stop_grace"] = "30s"
    assert not spec.is_valid(document)


def test_worker_stop_grace_outlasts_the_drain_and_the_release(services: dict[str, Any]) -> None:
    """`docker compose stop` sends SIGTERM, then SIGKILL after stop_grace_period (10 s unless
    set): the worker's OUTLAST_SHUTDOWN_GRACE_S plus its release must fit in it."""
    worker = services["worker"]
    drain = shutdown_grace_s(worker["environment"])
    assert compose_duration_s(worker["stop_grace_period"]) > drain + RELEASE_BUDGET_S


def test_every_service_is_declared(services: dict[str, Any]) -> None:
    assert set(services) == {"postgres", *APP_SERVICES}


def test_postgres_is_postgres_16_with_a_readiness_healthcheck_and_a_volume(
    services: dict[str, Any],
) -> None:
    postgres = services["postgres"]
    assert postgres["image"].startswith("postgres:16")
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert any(v.endswith(":/var/lib/postgresql/data") for v in postgres["volumes"])


def test_migrate_is_one_shot_and_waits_for_a_healthy_postgres(services: dict[str, Any]) -> None:
    migrate = services["migrate"]
    assert migrate["command"] == ["db", "migrate"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}


@pytest.mark.parametrize("name", ["api", "reaper", "worker"])
def test_app_services_start_after_migrate_succeeded(services: dict[str, Any], name: str) -> None:
    condition = services[name]["depends_on"]["migrate"]["condition"]
    assert condition == "service_completed_successfully"


@pytest.mark.parametrize(
    ("name", "command"),
    [("api", ["api", "--host", "0.0.0.0"]), ("reaper", ["reaper"]), ("worker", ["worker"])],
)
def test_commands(services: dict[str, Any], name: str, command: list[str]) -> None:
    assert services[name]["command"] == command


def test_api_publishes_8000_and_checks_healthz(services: dict[str, Any]) -> None:
    api = services["api"]
    assert any(str(p).endswith("8000:8000") for p in api["ports"])
    assert "/healthz" in " ".join(api["healthcheck"]["test"])


def test_worker_can_be_scaled(services: dict[str, Any]) -> None:
    # A fixed container name or host port would make `--scale worker=3` fail on the second one.
    worker = services["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_build_the_repo_image(services: dict[str, Any], name: str) -> None:
    assert services[name]["build"] == "."


def test_app_services_share_one_database_url(services: dict[str, Any]) -> None:
    urls = {services[name]["environment"]["DATABASE_URL"] for name in APP_SERVICES}
    assert len(urls) == 1
    assert "@postgres:5432/" in urls.pop()


def test_dockerfile_runs_outlast_as_a_non_root_user() -> None:
    dockerfile = (COMPOSE.parent / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile
    assert 'ENTRYPOINT ["outlast"]' in dockerfile
    users = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
