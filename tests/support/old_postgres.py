"""A throwaway PostgreSQL 15 server for the tests that must run on a version without
`transaction_timeout` (PostgreSQL 17+). Debian's `postgresql-15` package provides the binaries
(.ci/run installs it); without them the tests that need this server skip. Postgres refuses to run
as root, so as root the server runs as the package's `postgres` system user."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest

from db import migrate
from outlast.embedded import free_port

BIN = Path("/usr/lib/postgresql/15/bin")
SYSTEM_USER = "postgres"


def require_binaries() -> None:
    if not (BIN / "pg_ctl").exists():
        pytest.skip(f"PostgreSQL 15 is not installed ({BIN}; apt-get install postgresql-15)")


class OldPostgres:
    """PostgreSQL 15 on 127.0.0.1, data in a temporary directory, fsync off (as the test server)."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="outlast-pg15-"))
        self.port = free_port()
        self.user: str | None = SYSTEM_USER if os.geteuid() == 0 else None
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)

    def _run(self, *args: str) -> None:
        command = [str(BIN / args[0]), *args[1:]]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    @property
    def pgdata(self) -> Path:
        return self.root / "data"

    def start(self) -> None:
        self._run("initdb", "-D", str(self.pgdata), "--auth=trust", "-U", "postgres",
                  "--encoding=utf8", "--locale=C")  # fmt: skip
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self.root} -c max_connections=200"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run("pg_ctl", "-D", str(self.pgdata), "-w", "-t", "60", "-o", options,
                  "-l", str(self.root / "server.log"), "start")  # fmt: skip

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.pgdata), "-w", "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def migrated_database(self, name: str) -> str:
        """A new database `name` with Outlast's schema and LangGraph's checkpoint tables."""
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
        url = self.url(name)
        migrate.upgrade(url)
        return url
