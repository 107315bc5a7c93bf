"""The test suite's admin API key: inserted in the migrated template (so every cloned test
database has it), and sent by the test clients (api_client, live_server's callers through
$OUTLAST_API_KEY, which tests/conftest.py sets for the session)."""

from __future__ import annotations

from typing import Any, Protocol

import psycopg

from outlast import apikey

KEY_ID = "0000000000a1"
SECRET = "test-admin-secret-" + "x" * 25  # 43 characters, as outlast.apikey mints
TEST_KEY = f"olk_{KEY_ID}_{SECRET}"
AUTH = {"Authorization": f"Bearer {TEST_KEY}"}


def install(url: str, *, key_id: str = KEY_ID, secret: str = SECRET) -> None:
    """Store the admin key (tenant `default`) in the database at `url`."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO api_keys (id, tenant, name, scopes, secret_sha256)"
            " VALUES (%s, 'default', 'test suite', '{admin}', %s)",
            (key_id, apikey.digest(secret)),
        )


class _Poster(Protocol):
    def post(self, url: str, *, json: Any) -> Any: ...


def create(api: _Poster, *scopes: str, name: str | None = None) -> dict[str, Any]:
    """A new key made through the API (with the client's admin key); its `key` and headers."""
    response = api.post("/v1/keys", json={"scopes": list(scopes), "name": name})
    assert response.status_code == 201, response.text
    body = dict(response.json())
    body["headers"] = {"Authorization": f"Bearer {body['key']}"}
    return body
