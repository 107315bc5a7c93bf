"""The named SQL blocks: each has a purpose comment, names are unique, parsing is strict. Where
they live, who runs them and the fence: tests/unit/test_sql_rule.py."""

from __future__ import annotations

import pytest

from db.sql import QUERY_DIR, parse


def test_every_block_opens_with_a_purpose_comment() -> None:
    for path in QUERY_DIR.glob("*.sql"):
        for name, body in parse(path.read_text()).items():
            assert body.startswith("-- "), f"{path.name}:{name} has no purpose comment"


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(ValueError, match="defined twice"):
        parse("-- name: a\n-- one\nSELECT 1;\n-- name: a\n-- two\nSELECT 2;\n")
