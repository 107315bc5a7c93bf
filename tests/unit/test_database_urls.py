"""DATABASE_URL as users write it: query parameters (a unix socket directory, sslmode) survive
when the test and bench helpers point the URL at another database on the same server."""

from __future__ import annotations

import pytest

from outlast.embedded import database_name, with_database


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:p@127.0.0.1:5432/app", "postgresql://u:p@127.0.0.1:5432/other"),
        ("postgresql://u@h/app?sslmode=require", "postgresql://u@h/other?sslmode=require"),
        (
            "postgresql:///app?host=/run/postgresql&port=5433",
            "postgresql:///other?host=/run/postgresql&port=5433",
        ),
        ("postgresql://h:5432", "postgresql://h:5432/other"),
        ("postgresql://h/app#frag", "postgresql://h/other#frag"),
    ],
)
def test_with_database_keeps_everything_but_the_database(url: str, expected: str) -> None:
    assert with_database(url, "other") == expected


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("postgresql://u:p@127.0.0.1:5432/t_1", "t_1"),
        ("postgresql:///t_2?host=/run/postgresql", "t_2"),
        ("postgresql://h/t_3?sslmode=require", "t_3"),
    ],
)
def test_database_name_ignores_the_query(url: str, name: str) -> None:
    assert database_name(url) == name
