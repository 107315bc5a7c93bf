"""`make bench`'s own Postgres: an embedded server in a temporary directory starts, takes the
migrated template, hands out clones and goes away. (The embedded server's password, added with
API keys, broke this without any test noticing.)"""

from __future__ import annotations

import os

import psycopg
import pytest

from bench.server import BenchServer


def test_the_bench_server_starts_clones_and_stops() -> None:
    if os.environ.get("DATABASE_URL"):
        pytest.skip("the bench uses DATABASE_URL's server as it is")
    server = BenchServer(fast=True)
    server.start()
    try:
        url = server.clone()
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT count(*) FROM tasks").fetchone()
        assert row == (0,)
        assert server.facts()["fsync"] == "off"
        server.drop(url)
    finally:
        server.stop()
    assert server.root is None or not server.root.exists()
