"""The test clock hook cannot move a production database's clock: outlast_now() honours the
session setting `outlast.now` only in a database marked as a test database (a row in
outlast_test_clock, which migrations never write and the test template does)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest

from db import migrate
from tests.support.database import (
    DatabaseServer,
    database_name,
    mark_test_database,
    with_database,
)

FUTURE = "2030-01-01T00:00:00Z"


@pytest.fixture
def production_url(pg_server: DatabaseServer) -> Iterator[str]:
    """A database migrated as `outlast db migrate` migrates one: not cloned from the template."""
    name = f"t_prod_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    url = with_database(pg_server.admin_url, name)
    migrate.upgrade(url)
    try:
        yield url
    finally:
        pg_server.drop(url)


def clock(url: str, *, setting: str | None = FUTURE) -> datetime:
    with psycopg.connect(url, autocommit=True) as conn:
        if setting is not None:
            conn.execute("SELECT set_config('outlast.now', %s, false)", (setting,))
        row = conn.execute("SELECT outlast_now()").fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def test_production_database_ignores_the_session_setting(production_url: str) -> None:
    assert clock(production_url).year < 2030  # the real clock
    # Nor can a database- or role-level default move it: it is the same setting.
    with psycopg.connect(production_url, autocommit=True) as conn:
        name = database_name(production_url)  # not the URL's tail: it may carry a query
        conn.execute(f"ALTER DATABASE \"{name}\" SET outlast.now = '{FUTURE}'")  # type: ignore[arg-type]
    assert clock(production_url, setting=None).year < 2030


def test_marked_test_database_honours_it(production_url: str, db_url: str) -> None:
    assert clock(db_url) == datetime(2030, 1, 1, tzinfo=UTC)  # cloned from the test template
    mark_test_database(production_url)
    assert clock(production_url) == datetime(2030, 1, 1, tzinfo=UTC)
    assert clock(production_url, setting="").year < 2030  # unset: the real clock
