"""`outlast keys` and the CLI's key: found without being told ($OUTLAST_API_KEY, else
<data_dir>/admin.key), and without one a clear line and exit 2, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from outlast import apikey
from outlast.cli.client_commands import keys_app, tasks_app
from tests.integration.test_api_client_cli import assert_one_line_failure, base_url, ok, run
from tests.support.keys import TEST_KEY

__all__ = ["base_url"]  # the fixture, imported for pytest


@pytest.fixture
def no_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No $OUTLAST_API_KEY and an empty data directory: the CLI has no key to find."""
    monkeypatch.delenv("OUTLAST_API_KEY", raising=False)
    monkeypatch.setenv("OUTLAST_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_without_a_key_the_cli_says_so_in_one_line(base_url: str, no_key: Path) -> None:
    assert_one_line_failure(run(tasks_app, "list", url=base_url), "no API key", "OUTLAST_API_KEY")


def test_a_wrong_key_is_one_line_naming_the_refusal(
    base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OUTLAST_API_KEY", "olk_0123456789ab_" + "z" * 43)
    assert_one_line_failure(run(tasks_app, "list", url=base_url), "401", "olk_0123456789ab")


def test_the_key_make_start_saved_is_used_without_being_told(base_url: str, no_key: Path) -> None:
    apikey.write_key_file(apikey.key_file(no_key), TEST_KEY)
    assert apikey.key_file(no_key).stat().st_mode & 0o777 == 0o600
    assert ok(run(tasks_app, "list", "-o", "json", url=base_url))["items"] == []


def test_keys_create_list_revoke(base_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    made = ok(run(keys_app, "create", "--scope", "tasks:read", "--name", "reader", url=base_url))
    assert made["scopes"] == ["tasks:read"] and made["key"].startswith(made["id"] + "_")
    listed = ok(run(keys_app, "list", "-o", "json", url=base_url))["items"]
    assert made["id"] in [k["id"] for k in listed] and all("key" not in k for k in listed)

    monkeypatch.setenv("OUTLAST_API_KEY", made["key"])
    assert ok(run(tasks_app, "list", "-o", "json", url=base_url))["items"] == []
    assert_one_line_failure(run(keys_app, "list", url=base_url), "403", "admin")

    monkeypatch.setenv("OUTLAST_API_KEY", TEST_KEY)
    assert ok(run(keys_app, "revoke", made["id"], url=base_url))["revoked_at"] is not None
    monkeypatch.setenv("OUTLAST_API_KEY", made["key"])
    assert_one_line_failure(run(tasks_app, "list", url=base_url), "401")
