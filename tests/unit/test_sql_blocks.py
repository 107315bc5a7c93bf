"""The named SQL blocks: each has a purpose comment, names are unique, parsing is strict."""

from __future__ import annotations

import pytest

from db.sql import QUERIES, QUERY_DIR, parse


def test_every_block_opens_with_a_purpose_comment() -> None:
    for path in QUERY_DIR.glob("*.sql"):
        for name, body in parse(path.read_text()).items():
            assert body.startswith("-- "), f"{path.name}:{name} has no purpose comment"


def test_hot_path_statements_exist() -> None:
    for name in (
        "task_insert",
        "task_claim_many",
        "lease_heartbeat",
        "lease_fence",
        "task_complete",
        "task_fail",
        "task_release",
        "lease_reap_expired",
        "task_cancel",
        "dead_letter_redrive",
    ):
        assert name in QUERIES


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(ValueError, match="defined twice"):
        parse("-- name: a\n-- one\nSELECT 1;\n-- name: a\n-- two\nSELECT 2;\n")


def test_worker_writes_are_fenced_by_epoch_and_live_lease() -> None:
    for name in (
        "task_complete",
        "task_fail",
        "task_release",
        "task_cancel_ack",
        "lease_fence",
        "lease_fence_resume",
    ):
        sql = QUERIES[name]
        assert "lease_epoch = %(epoch)s" in sql, name
        assert "lease_expires_at >" in sql, name
        assert "state = 'running'" in sql, name
