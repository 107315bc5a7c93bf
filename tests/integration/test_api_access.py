"""API keys on every route: the routes are read from the OpenAPI document (app.openapi()), and
each one's scope from the `security` its dependency declares, never from a hand-written list."""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from db.models import KEY_SCOPES
from tests.integration.test_cli_approvals import park
from tests.support.api import settings_for
from tests.support.keys import AUTH, create

OPEN = {"/healthz", "/readyz"}


@pytest.fixture
def bare(db_url: str) -> Iterator[TestClient]:
    """The API under a client that sends no key unless told to."""
    with TestClient(create_app(settings_for(db_url)), raise_server_exceptions=False) as client:
        yield client


def operations(client: TestClient) -> list[tuple[str, str, list[str]]]:
    """(method, path, scopes) of every documented operation."""
    found = []
    for path, item in client.app.openapi()["paths"].items():  # type: ignore[attr-defined]
        for method, operation in item.items():
            scopes = [s for req in operation.get("security", []) for s in req.get("ApiKey", [])]
            found.append((method.upper(), path, scopes))
    return found


def concrete(path: str) -> str:
    """A path with every parameter filled with a well-formed value (the key is checked first)."""
    path = path.replace("{key_id}", "olk_0123456789ab")
    return re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)


def call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> Any:
    return client.request(method, concrete(path), headers=headers)


def assert_problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, (response.request.url, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["type"].endswith("/" + slug), body
    return body


def test_every_route_but_health_declares_exactly_one_known_scope(bare: TestClient) -> None:
    ops = operations(bare)
    assert len(ops) > 20  # the document was read, not an empty dict
    for method, path, scopes in ops:
        if path in OPEN:
            assert scopes == [], (method, path)
            assert bare.request(method, path).status_code in (200, 503), (method, path)
        else:
            assert len(scopes) == 1 and scopes[0] in KEY_SCOPES, (method, path, scopes)


def test_every_route_refuses_a_missing_a_malformed_and_a_revoked_key(bare: TestClient) -> None:
    revoked = create(bare_admin(bare), "admin", name="soon revoked")
    assert bare.delete(f"/v1/keys/{revoked['id']}", headers=AUTH).status_code == 200
    for method, path, _ in operations(bare):
        if path in OPEN:
            continue
        for headers in ({}, {"Authorization": "Bearer nope"}, revoked["headers"]):
            response = call(bare, method, path, headers)
            assert_problem(response, 401, "unauthorized")
            assert response.headers["www-authenticate"].startswith("Bearer")


def test_every_route_refuses_a_key_without_its_scope(bare: TestClient) -> None:
    admin = bare_admin(bare)
    keys_by_scope = {
        scope: create(admin, *(s for s in KEY_SCOPES if s not in (scope, "admin")))["headers"]
        for scope in KEY_SCOPES
    }
    for method, path, scopes in operations(bare):
        if path in OPEN:
            continue
        (scope,) = scopes
        body = assert_problem(call(bare, method, path, keys_by_scope[scope]), 403, "forbidden")
        assert body["scope"] == scope and scope in body["detail"]


def test_a_key_with_the_scope_passes_and_admin_holds_every_scope(bare: TestClient) -> None:
    reader = create(bare_admin(bare), "tasks:read")["headers"]
    assert bare.get("/v1/tasks", headers=reader).status_code == 200
    assert bare.get("/v1/tasks", headers=AUTH).status_code == 200
    assert bare.get("/metrics", headers=AUTH).status_code == 200
    scraper = create(bare_admin(bare), "metrics:read")["headers"]
    assert bare.get("/metrics", headers=scraper).status_code == 200
    assert bare.get("/v1/tasks", headers=scraper).status_code == 403


def bare_admin(bare: TestClient) -> Any:
    """`bare` as the test suite's admin (for tests/support/keys.create)."""

    class Admin:
        @staticmethod
        def post(url: str, *, json: Any) -> Any:
            return bare.post(url, json=json, headers=AUTH)

    return Admin()


def test_a_key_is_shown_once_and_only_its_hash_is_stored(bare: TestClient, db_url: str) -> None:
    made = create(bare_admin(bare), "tasks:read", name="reader")
    token = made["key"]
    assert re.fullmatch(r"olk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", token)
    secret = token.split("_", 2)[2]
    listed = bare.get("/v1/keys", headers=AUTH)
    assert listed.status_code == 200
    assert secret not in listed.text and "key" not in listed.json()["items"][0]
    assert made["id"] in [k["id"] for k in listed.json()["items"]]
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT t::text, secret_sha256 FROM api_keys AS t").fetchall()
    assert all(secret not in text for text, _ in rows)
    assert hashlib.sha256(secret.encode()).digest() in [bytes(digest) for _, digest in rows]


def test_revocation_takes_effect_on_the_next_request(bare: TestClient) -> None:
    made = create(bare_admin(bare), "tasks:read")
    assert bare.get("/v1/tasks", headers=made["headers"]).status_code == 200
    revoked = bare.delete(f"/v1/keys/{made['id']}", headers=AUTH)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert_problem(bare.get("/v1/tasks", headers=made["headers"]), 401, "unauthorized")
    # Revoking again keeps the first time; an unknown key is 404.
    again = bare.delete(f"/v1/keys/{made['id']}", headers=AUTH)
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]
    assert_problem(bare.delete("/v1/keys/olk_0123456789ab", headers=AUTH), 404, "not-found")


def test_a_wrong_secret_for_a_live_key_is_refused(bare: TestClient) -> None:
    made = create(bare_admin(bare), "tasks:read")
    forged = made["key"][:-4] + ("aaaa" if not made["key"].endswith("aaaa") else "bbbb")
    response = bare.get("/v1/tasks", headers={"Authorization": f"Bearer {forged}"})
    assert_problem(response, 401, "unauthorized")


def test_last_use_is_recorded(bare: TestClient, db_url: str) -> None:
    made = create(bare_admin(bare), "tasks:read")
    assert bare.get("/v1/keys", headers=AUTH).json()["items"][0]["last_used_at"] is None
    for _ in range(3):
        assert bare.get("/v1/tasks", headers=made["headers"]).status_code == 200
    items = {k["id"]: k for k in bare.get("/v1/keys", headers=AUTH).json()["items"]}
    assert items[made["id"]]["last_used_at"] is not None


def test_the_approver_is_the_key_never_the_body(bare: TestClient, db_url: str) -> None:
    task_id = park(db_url, "expense", "approval", {"outlast": "approval", "action": "pay"})
    ana = create(bare_admin(bare), "approvals:decide", name="ana")
    named = bare.post(
        f"/v1/tasks/{task_id}/approve", json={"decided_by": "mallory"}, headers=ana["headers"]
    )
    body = assert_problem(named, 422, "validation-error")
    assert [e["field"] for e in body["errors"]] == ["body.decided_by"]
    approved = bare.post(f"/v1/tasks/{task_id}/approve", json={}, headers=ana["headers"])
    assert approved.status_code == 200, approved.text
    wait = approved.json()["wait"]
    assert wait["decided_by"] == f"ana ({ana['id']})"
    assert wait["value"]["decided_by"] == f"ana ({ana['id']})"  # what the graph receives


def test_a_tenant_admin_manages_only_its_own_tenant(bare: TestClient) -> None:
    acme = bare.post(
        "/v1/keys", json={"scopes": ["admin"], "tenant": "acme", "name": "acme ops"}, headers=AUTH
    )
    assert acme.status_code == 201 and acme.json()["tenant"] == "acme"
    acme_headers = {"Authorization": f"Bearer {acme.json()['key']}"}
    own = bare.post("/v1/keys", json={"scopes": ["tasks:read"]}, headers=acme_headers)
    assert own.status_code == 201 and own.json()["tenant"] == "acme"
    other = bare.post(
        "/v1/keys", json={"scopes": ["admin"], "tenant": "default"}, headers=acme_headers
    )
    assert_problem(other, 403, "forbidden")
    listed = bare.get("/v1/keys", headers=acme_headers).json()["items"]
    assert {k["tenant"] for k in listed} == {"acme"}
    # Another tenant's key is unknown to this tenant: 404, not 403.
    assert bare.delete("/v1/keys/olk_0000000000a1", headers=acme_headers).status_code == 404


def test_bad_key_requests_are_422_naming_the_field(bare: TestClient) -> None:
    for body, field in (
        ({"scopes": ["everything"]}, "body.scopes.0"),
        ({"scopes": []}, "body.scopes"),
        ({"scopes": ["admin"], "tenant": "Not A Tenant"}, "body.tenant"),
    ):
        problem = assert_problem(
            bare.post("/v1/keys", json=body, headers=AUTH), 422, "validation-error"
        )
        assert field in [e["field"] for e in problem["errors"]], problem


def test_over_the_rate_a_key_gets_429_with_retry_after(db_url: str) -> None:
    app = create_app(settings_for(db_url, rate_limit_per_s=0.01, rate_limit_burst=2))
    with TestClient(app, raise_server_exceptions=False, headers=AUTH) as client:
        assert [client.get("/v1/tasks").status_code for _ in range(2)] == [200, 200]
        limited = client.get("/v1/tasks")
        assert_problem(limited, 429, "rate-limited")
        assert int(limited.headers["retry-after"]) >= 1
        assert client.get("/healthz").status_code == 200  # probes are not limited


def test_local_mode_takes_no_key_and_warns_at_start(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="outlast.api")
    with TestClient(create_app(settings_for(db_url, auth="off"))) as client:
        assert client.get("/v1/tasks").status_code == 200
    assert any("OUTLAST_AUTH=off" in r.getMessage() for r in caplog.records)
