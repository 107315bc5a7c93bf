"""`python -m bench` (`make bench`): Outlast's throughput, latency, recovery and memory, each beside
the ceiling it is measured against in the same run on the same server. Prints one page: the
configuration, then the table. Targets are information; the run fails only if it cannot measure.

Configuration: BENCH_* variables (bench/config.py; BENCH_SCALE=0.2 for a quick run,
BENCH_SECTIONS=queue,graphs for some sections), DATABASE_URL for a server of your own (a fresh
database is created on it and dropped after), else an embedded Postgres in a temporary directory.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import psutil

from bench import (
    fairness,
    latency,
    memory,
    recovery,
    streams,
    submits,
    throughput,
    transcripts,
)
from bench.config import BenchConfig, ConfigError, from_env
from bench.server import BenchServer
from bench.session import Session, say
from bench.table import Row, render
from worker.config import queue_parallelism


def _run_sections(session: Session, with_streams: bool = False) -> list[Row]:
    cfg = session.config
    rows: list[Row] = []
    ceiling: throughput.Ceilings = {}

    def ceilings() -> list[Row]:
        measured, values = throughput.ceilings(session)
        ceiling.update(values)
        return measured

    steps: list[tuple[str, str, Callable[[], list[Row]]]] = [
        ("ceiling", "1", ceilings),
        ("queue", "2", lambda: throughput.queue_core(session, ceiling)),
        ("graphs", "3", lambda: throughput.graph_runs(session)),
        ("latency", "4", lambda: latency.start_latency(session)),
        ("claims", "5", lambda: latency.claim_latency(session)),
        ("recovery", "6", lambda: recovery.recovery(session)),
        ("api", "7", lambda: submits.api(session)),
        ("memory", "8", lambda: memory.worker_rss(session)),
        ("transcripts", "9", lambda: transcripts.transcripts(session)),
        ("fairness", "10", lambda: fairness.fairness(session)),
        (streams.NAME, streams.NUMBER, lambda: streams.streams(session)),
    ]
    for name, number, step in steps:
        if not (cfg.wants(name) or (name == streams.NAME and with_streams)):
            continue
        try:
            rows += step()
        except Exception as exc:  # one broken section must not hide the others' figures
            traceback.print_exc()
            rows.append(
                Row(number, f"{name}: not measured ({type(exc).__name__}: {exc})"[:90], None, "")
            )
    return rows


def _header(cfg: BenchConfig, facts: dict[str, str], seconds: float) -> str:
    libs = ", ".join(
        f"{p} {version(p)}"
        for p in ("langgraph", "langgraph-checkpoint-postgres", "psycopg", "fastapi")
    )
    pg = " ".join(
        f"{k}={facts[k]}"
        for k in (
            "fsync",
            "synchronous_commit",
            "full_page_writes",
            "shared_buffers",
            "max_connections",
        )
    )
    counts = (
        f"ceiling A {cfg.count('ceiling_tasks')}, queue {cfg.count('queue_tasks')}, "
        f"graphs {cfg.count('graph_tasks')}/{max(1, cfg.count('graph_tasks') // 4)} "
        f"(1-node/10-node) x {cfg.rounds} rounds, latency "
        f"{cfg.count('latency_tasks')} @{cfg.latency_rate:g}/s + poll "
        f"{cfg.count('poll_tasks')}, depths "
        f"{'/'.join(f'{d:,}' for d in cfg.depths)}, waiting {cfg.count('waiting_tasks'):,},"
        f" claims {cfg.claims_per_depth}x{cfg.claim_batch}, recovery trials "
        f"{cfg.recovery_trials}, api {cfg.count('api_single')} + "
        f"{cfg.count('api_batches')}x{cfg.api_batch_size}, rss {cfg.count('rss_tasks')}"
    )
    mem = psutil.virtual_memory().total / 2**30
    parallel = queue_parallelism(cfg.queue_concurrency)
    queue = (
        f"{parallel['claimers']} claim loops and {parallel['completion_writers']} completion "
        "writers per process"
    )
    return "\n".join(
        [
            f"Outlast bench, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, took {seconds:.0f} s",
            f"machine: {os.cpu_count()} CPUs, {mem:.1f} GiB, {platform.system()} "
            f"{platform.machine()}; Python {platform.python_version()}; {libs}",
            f"postgres {facts['version']}, {facts['server']}, same machine: {pg}",
            f"outlast: lease TTL {cfg.lease_ttl_s:g}s (heartbeat every TTL/3), reaper every "
            f"{cfg.reaper_interval_s:g}s, poll {cfg.poll_interval_s:g}s, worker concurrency "
            f"{cfg.concurrency} ({cfg.queue_concurrency} on the queue core: --concurrency "
            f"{cfg.queue_concurrency}, the throughput setting, ADR 0019), log level INFO; the "
            "queue core's no-op task is a function task (no checkpoint); graph tasks checkpoint "
            "through the fence",
            f"queue core workers: default settings, so {queue} (worker.config."
            f"queue_parallelism), claims of up to {(cfg.queue_concurrency + 1) // 2}, fair claim "
            f"on; ceiling A's best loop: {cfg.ceiling_connections} connections per process, "
            f"batches of 10 and {cfg.ceiling_batch} (as many tasks at once as a worker's "
            f"{cfg.queue_concurrency} slots)",
            f"sizes (BENCH_SCALE={cfg.scale:g}): {counts}",
            f"sections: {', '.join(cfg.sections)} (+ streams when asked)",
        ]
    )


def main() -> int:
    environ, with_streams, streams_alone = streams.sections(os.environ)
    try:
        cfg = from_env(environ)
    except ConfigError as exc:
        print(f"bench: bad configuration: {exc}", file=sys.stderr)
        return 2
    if streams_alone:
        cfg = dataclasses.replace(cfg, sections=())
    started = time.monotonic()
    server = BenchServer(fast=cfg.pg_fast)
    say(f"starting Postgres ({server.kind}) and migrating a template database")
    logs = Path(tempfile.mkdtemp(prefix="outlast-bench-logs-"))
    try:
        server.start()
        facts = server.facts()
        rows = _run_sections(Session(cfg, server, logs), with_streams)
    finally:
        server.stop()
    print(_header(cfg, facts, time.monotonic() - started))
    print()
    print(render(rows))
    say(f"process logs are in {logs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
