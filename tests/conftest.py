"""Fixtures, in two tiers (STYLE.md): `tx`, a connection in a transaction rolled back after the
test; `db_url`/`pool`, a database cloned from a migrated template for tests that need several
connections or real processes. All on real PostgreSQL."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from psycopg import AsyncConnection
from psycopg.rows import DictRow

from db.connect import Pool, connect, open_pool
from tests.support.database import DatabaseServer
from tests.support.fake_llm import FakeLLM
from tests.support.keys import TEST_KEY
from tests.support.processes import Processes

REPO = Path(__file__).resolve().parent.parent
# outlast.client and the CLI send this key (every test database holds it: tests/support/keys).
os.environ["OUTLAST_API_KEY"] = TEST_KEY


@pytest.fixture(scope="session")
def pg_server() -> Iterator[DatabaseServer]:
    root = Path(tempfile.mkdtemp(prefix="outlast-test-"))
    server = DatabaseServer(root)
    try:
        server.create_template()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def db_url(pg_server: DatabaseServer) -> Iterator[str]:
    url = pg_server.clone()
    try:
        yield url
    finally:
        pg_server.drop(url)


@pytest.fixture
async def pool(db_url: str) -> AsyncIterator[Pool]:
    pool = await open_pool(db_url, min_size=1, max_size=8)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture(scope="session")
def shared_db_url(pg_server: DatabaseServer) -> Iterator[str]:
    """One migrated database for the `tx` tier (every test rolls back)."""
    url = pg_server.clone()
    yield url
    pg_server.drop(url)


@pytest.fixture
async def tx(shared_db_url: str) -> AsyncIterator[AsyncConnection[DictRow]]:
    conn = await connect(shared_db_url)
    try:
        await conn.execute("BEGIN")
        yield conn
    finally:
        await conn.execute("ROLLBACK")
        await conn.close()


@pytest.fixture
def processes(db_url: str, tmp_path: Path) -> Iterator[Processes]:
    """Real worker, reaper and API processes against this test's database; all killed after."""
    procs = Processes(db_url=db_url, logs=tmp_path / "logs", cwd=REPO, base_env=dict(os.environ))
    try:
        yield procs
    finally:
        procs.kill_all()


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLM]:
    """The local fake provider (Anthropic and OpenAI wire formats), one per test module."""
    fake = FakeLLM()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def fake(server: FakeLLM) -> FakeLLM:
    """The fake provider with its script and recorded requests cleared for this test."""
    server.reset()
    return server
