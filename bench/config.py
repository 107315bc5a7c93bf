"""What one `make bench` run measures, from the environment (BENCH_*), with named defaults.

Every knob is printed at the top of the run, so a figure is never read apart from the
configuration that produced it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

SECTIONS = (
    "ceiling",
    "queue",
    "graphs",
    "latency",
    "claims",
    "recovery",
    "api",
    "memory",
    "transcripts",
    "fairness",
)


class ConfigError(ValueError):
    """A BENCH_* variable that cannot be used; the message names it and the rule."""


@dataclass(frozen=True)
class BenchConfig:
    scale: float = 1.0  # multiplies every task count below (not the claim depths)
    sections: tuple[str, ...] = SECTIONS
    pg_fast: bool = False  # embedded server only: fsync, synchronous_commit, full_page_writes off
    concurrency: int = 8  # slots per worker process (the product default)
    # Slots per worker process on the queue core's drains: a throughput setting a user running
    # short tasks would choose (--concurrency / OUTLAST_WORKER_CONCURRENCY), as many tasks in
    # flight as ceiling A's best loop holds (4 connections x 50). ADR 0019.
    queue_concurrency: int = 200
    lease_ttl_s: float = 5.0
    reaper_interval_s: float = 1.0
    poll_interval_s: float = 2.0  # the product default
    ceiling_tasks: int = 10_000
    ceiling_connections: int = 4  # connections (a thread each) per process of the best loop
    queue_tasks: int = 10_000
    graph_tasks: int = 300  # one-node tasks per round; ten-node: a quarter of that
    rounds: int = 5
    latency_tasks: int = 200
    latency_rate: float = 25.0  # submits per second on the latency runs
    poll_tasks: int = 60
    depths: tuple[int, ...] = (1_000, 100_000, 1_000_000)
    waiting_tasks: int = 10_000
    claims_per_depth: int = 200
    claim_batch: int = 10
    fair_depth: int = 100_000  # queued tasks under the fair claim (section 9)
    recovery_trials: int = 3
    api_single: int = 1_500
    api_batches: int = 10
    api_batch_size: int = 1_000
    rss_tasks: int = 200

    @property
    def ceiling_batch(self) -> int:
        """Ceiling A's bigger batch: the worker's slots shared by the loop's connections, so the
        loop holds as many tasks at once as a queue core worker process (ADR 0019)."""
        return max(1, self.queue_concurrency // self.ceiling_connections)

    def count(self, name: str) -> int:
        """A task count with the scale applied (never below 1)."""
        base: int = getattr(self, name)
        return max(1, round(base * self.scale))

    def wants(self, section: str) -> bool:
        return section in self.sections


def _number(env: str, raw: str, kind: type[int] | type[float], low: float) -> int | float:
    try:
        value = kind(raw.replace("_", ""))
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise ConfigError(f"{env}={raw!r}: expected {what}") from None
    if value < low:
        raise ConfigError(f"{env}={raw!r}: must be at least {low:g}")
    return value


def _flag(env: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{env}={raw!r}: expected 1/0, true/false, yes/no or on/off")


def _sections(env: str, raw: str) -> tuple[str, ...]:
    chosen = tuple(part.strip() for part in raw.split(",") if part.strip())
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown or not chosen:
        raise ConfigError(f"{env}={raw!r}: choose from {', '.join(SECTIONS)}")
    return tuple(s for s in SECTIONS if s in chosen)


def _depths(env: str, raw: str) -> tuple[int, ...]:
    parts = [p for p in raw.split(",") if p.strip()]
    if not parts:
        raise ConfigError(f"{env}={raw!r}: expected comma-separated queue depths")
    return tuple(sorted(int(_number(env, p.strip(), int, 1)) for p in parts))


def from_env(environ: Mapping[str, str] | None = None) -> BenchConfig:
    """The configuration from BENCH_<FIELD> variables (BENCH_SCALE, BENCH_DEPTHS=1000,100000...).
    Raises ConfigError naming the variable."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for f in fields(BenchConfig):
        name = f"BENCH_{f.name.upper()}"
        if name not in env:
            continue
        raw = env[name]
        default = getattr(BenchConfig, f.name)
        if f.name == "sections":
            values[f.name] = _sections(name, raw)
        elif f.name == "depths":
            values[f.name] = _depths(name, raw)
        elif isinstance(default, bool):
            values[f.name] = _flag(name, raw)
        elif isinstance(default, int):
            values[f.name] = int(_number(name, raw, int, 1))
        else:
            values[f.name] = float(_number(name, raw, float, 0.001))
    return BenchConfig(**values)  # type: ignore[arg-type]
