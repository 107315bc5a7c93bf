"""The embedded Postgres takes no connection without its generated password, which is kept
in a file only its owner can read."""

from __future__ import annotations

import psycopg
import pytest

from tests.support.database import DatabaseServer


def test_no_password_no_connection_and_the_password_file_is_0600(
    pg_server: DatabaseServer,
) -> None:
    server = pg_server.embedded
    if server is None:
        pytest.skip("DATABASE_URL names another server")
    assert server.password_file.stat().st_mode & 0o777 == 0o600
    with psycopg.connect(server.url("postgres")) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    for url in (
        f"postgresql://postgres@127.0.0.1:{server.port}/postgres",
        f"postgresql://postgres:wrong@127.0.0.1:{server.port}/postgres",
        f"postgresql://postgres@/postgres?host={server.pgdata}&port={server.port}",  # the socket
    ):
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(url, connect_timeout=5).close()
    auth = (server.pgdata / "pg_hba.conf").read_text()
    assert "trust" not in auth.replace("# ", "") and "scram-sha-256" in auth
