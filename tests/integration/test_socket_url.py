"""A DATABASE_URL that reaches Postgres over its unix socket (`?host=/socket/dir`) works in the
test and bench helpers: pointed at another database, it keeps its query, and the bench's server
creates, migrates, clones and drops databases through it. The embedded server listens on a socket
in its data directory as well as on 127.0.0.1."""

from __future__ import annotations

import psycopg
import pytest

from bench.server import BenchServer
from outlast.embedded import database_name, with_database
from tests.support.database import DatabaseServer


def socket_url(pg_server: DatabaseServer, database: str) -> str:
    server = pg_server.embedded
    if server is None:
        pytest.skip("DATABASE_URL names another server")
    password = server.password()
    return f"postgresql://postgres:{password}@/{database}?host={server.pgdata}&port={server.port}"


def test_a_socket_url_pointed_at_another_database_connects(
    pg_server: DatabaseServer, db_url: str
) -> None:
    url = with_database(socket_url(pg_server, "postgres"), database_name(db_url))
    with psycopg.connect(url, connect_timeout=5) as conn:
        row = conn.execute("SELECT current_database(), inet_server_addr()").fetchone()
    assert row == (database_name(db_url), None)  # no address: the unix socket


def test_the_bench_server_works_through_a_socket_url(
    pg_server: DatabaseServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", socket_url(pg_server, "outlast"))
    bench = BenchServer(fast=False)
    bench.start()  # a template database, migrated through the socket
    try:
        url = bench.clone()
        assert "?host=" in url
        with psycopg.connect(url, connect_timeout=5) as conn:
            row = conn.execute("SELECT count(*) FROM tasks").fetchone()
        assert row == (0,)
        bench.drop(url)
        assert bench.facts()["server"] == "DATABASE_URL"
    finally:
        bench.stop()
