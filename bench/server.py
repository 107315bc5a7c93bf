"""The Postgres the benchmark measures: DATABASE_URL's server when set, else an embedded one in a
temporary directory, started for this run and removed after it. Each section gets a fresh
database cloned from a migrated template, and drops it when done."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

import psycopg

from db import migrate
from outlast.embedded import EmbeddedPostgres, database_name, free_port, with_database

TEMPLATE = "outlast_bench_template"
# The test server's settings (tests/support/database.py), used only with BENCH_PG_FAST=1.
FAST = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")
SHOWN = ("fsync", "synchronous_commit", "full_page_writes", "shared_buffers", "max_connections")


class BenchServer:
    def __init__(self, *, fast: bool) -> None:
        self.root: Path | None = None
        self.embedded: EmbeddedPostgres | None = None
        self.fast = fast
        external = os.environ.get("DATABASE_URL")
        if external:
            self.admin_url = with_database(external, "postgres")
            self.kind = "DATABASE_URL"
        else:
            self.root = Path(tempfile.mkdtemp(prefix="outlast-bench-"))
            options = FAST if fast else ()
            self.embedded = EmbeddedPostgres(self.root, free_port(), options=options)
            self.admin_url = ""  # known once started: the URL carries the generated password
            self.kind = "embedded (temp dir)"

    def start(self) -> None:
        if self.embedded is not None:
            self.embedded.start()
            self.admin_url = self.embedded.url("postgres")
        self._admin(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)')
        self._admin(f'CREATE DATABASE "{TEMPLATE}"')
        migrate.upgrade(with_database(self.admin_url, TEMPLATE))

    def _admin(self, sql: str) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql.encode())

    def clone(self) -> str:
        """A fresh, migrated, empty database; its URL."""
        name = f"bench_{uuid.uuid4().hex[:12]}"
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
        return with_database(self.admin_url, name)

    def drop(self, url: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{database_name(url)}" WITH (FORCE)')

    def facts(self) -> dict[str, str]:
        """The server's version and the settings that move the figures."""
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            facts = {"server": self.kind}
            row = conn.execute("SHOW server_version").fetchone()
            facts["version"] = str(row[0]) if row else "?"
            for name in SHOWN:
                row = conn.execute(f"SHOW {name}".encode()).fetchone()
                facts[name] = str(row[0]) if row else "?"
        return facts

    def stop(self) -> None:
        try:
            self._admin(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)')
        finally:
            if self.embedded is not None:
                self.embedded.stop()
            if self.root is not None:
                shutil.rmtree(self.root, ignore_errors=True)
