"""API sessions carry statement_timeout and lock_timeout: a request stuck behind a lock (or a
slow statement) answers a clear 503 problem naming the timeout, never a 500, and never waits
for ever. The lock is held by this test until it releases it, so nothing depends on speed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from tests.integration.test_api_bad_input import assert_problem
from tests.support.api import api_client, submit


@contextmanager
def tasks_locked(db_url: str) -> Iterator[None]:
    """Every statement on `tasks` waits until the block ends."""
    with psycopg.connect(db_url) as conn:
        conn.execute("LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE")
        yield
        conn.rollback()


@pytest.mark.parametrize(
    ("overrides", "setting"),
    [
        ({"api_lock_timeout_s": 0.2, "api_statement_timeout_s": 60}, "lock_timeout"),
        ({"api_lock_timeout_s": 60, "api_statement_timeout_s": 0.2}, "statement_timeout"),
    ],
)
def test_a_statement_that_times_out_is_a_503_problem(
    db_url: str, overrides: dict[str, float], setting: str
) -> None:
    with api_client(db_url, **overrides) as client:
        task = submit(client, "pipeline")
        with tasks_locked(db_url):
            response = client.get(f"/v1/tasks/{task['id']}")
            problem = assert_problem(response, 503, "database-timeout")
            assert problem["timeout"] == setting
            assert response.headers["retry-after"] == "1"
        assert client.get(f"/v1/tasks/{task['id']}").status_code == 200  # the pool recovered


def test_api_sessions_carry_the_timeouts(db_url: str) -> None:
    with api_client(db_url, api_statement_timeout_s=7, api_lock_timeout_s=3) as client:
        pool = client.app.state.pool  # type: ignore[attr-defined]

        async def show() -> tuple[str, str]:
            async with pool.connection() as conn:
                statement = await (await conn.execute("SHOW statement_timeout")).fetchone()
                lock = await (await conn.execute("SHOW lock_timeout")).fetchone()
            return statement["statement_timeout"], lock["lock_timeout"]

        assert client.portal is not None
        assert client.portal.call(show) == ("7s", "3s")
