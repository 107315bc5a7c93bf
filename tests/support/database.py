"""Test databases: one server per session, a migrated template, a clone per test."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import psycopg

from db import migrate
from outlast.embedded import EmbeddedPostgres, database_name, free_port, with_database
from tests.support import keys

TEMPLATE = "outlast_template"
# The test server trades durability for speed: no test here needs to survive an OS crash.
FAST = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


def mark_test_database(url: str) -> None:
    """Let sessions of this database move outlast_now() with `SET outlast.now` (migration 0008).
    Only test databases get the mark: a production database ignores the setting."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO outlast_test_clock DEFAULT VALUES ON CONFLICT DO NOTHING")


class DatabaseServer:
    """The session's Postgres: DATABASE_URL's server when set, else an embedded one."""

    def __init__(self, root: Path) -> None:
        self.embedded: EmbeddedPostgres | None = None
        if os.environ.get("DATABASE_URL"):
            self.admin_url = with_database(os.environ["DATABASE_URL"], "postgres")
        else:
            self.embedded = EmbeddedPostgres(root, free_port(), options=FAST)
            self.embedded.start()
            self.admin_url = self.embedded.url("postgres")

    def _admin(self, sql: str) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def create_template(self) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)')
        self._admin(f'CREATE DATABASE "{TEMPLATE}"')
        url = with_database(self.admin_url, TEMPLATE)
        migrate.upgrade(url)
        mark_test_database(url)
        keys.install(url)

    def clone(self) -> str:
        name = f"t_{uuid.uuid4().hex[:16]}"
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
        return with_database(self.admin_url, name)

    def drop(self, url: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{database_name(url)}" WITH (FORCE)')

    def stop(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()
