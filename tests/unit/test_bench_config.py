"""bench/config.py: BENCH_* variables, with clear errors naming the variable."""

from __future__ import annotations

import pytest

from bench.ceiling_sql import ceiling_statements
from bench.config import SECTIONS, BenchConfig, ConfigError, from_env


def test_defaults_measure_everything_at_full_size() -> None:
    cfg = from_env({})
    assert cfg == BenchConfig()
    assert cfg.sections == SECTIONS
    assert cfg.depths == (1_000, 100_000, 1_000_000)
    assert cfg.count("queue_tasks") == cfg.queue_tasks


def test_values_are_parsed_and_scaled() -> None:
    cfg = from_env(
        {
            "BENCH_SCALE": "0.1",
            "BENCH_SECTIONS": "graphs, queue",
            "BENCH_PG_FAST": "yes",
            "BENCH_CONCURRENCY": "16",
            "BENCH_LEASE_TTL_S": "2.5",
            "BENCH_DEPTHS": "100000,1_000",
            "OTHER": "ignored",
        }
    )
    assert cfg.scale == 0.1
    assert cfg.sections == ("queue", "graphs")  # run order, not the order given
    assert cfg.pg_fast is True
    assert cfg.concurrency == 16
    assert cfg.lease_ttl_s == 2.5
    assert cfg.depths == (1_000, 100_000)
    assert cfg.count("queue_tasks") == round(BenchConfig.queue_tasks * 0.1)
    assert from_env({"BENCH_SCALE": "0.001"}).count("rss_tasks") == 1


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BENCH_SCALE": "fast"}, "BENCH_SCALE='fast': expected a number"),
        ({"BENCH_CONCURRENCY": "0"}, "BENCH_CONCURRENCY='0': must be at least 1"),
        ({"BENCH_CONCURRENCY": "2.5"}, "BENCH_CONCURRENCY='2.5': expected an integer"),
        ({"BENCH_SECTIONS": "queue,nope"}, "BENCH_SECTIONS='queue,nope': choose from"),
        ({"BENCH_SECTIONS": " , "}, "choose from"),
        ({"BENCH_PG_FAST": "maybe"}, "BENCH_PG_FAST='maybe': expected 1/0"),
        ({"BENCH_DEPTHS": "1000,lots"}, "BENCH_DEPTHS='lots': expected an integer"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        from_env(env)


def test_ceiling_a_uses_no_outlast_code() -> None:
    for statement in ceiling_statements():
        assert "outlast_" not in statement and "task_events" not in statement
        assert "ceiling_tasks" in statement
