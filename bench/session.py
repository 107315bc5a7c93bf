"""One benchmark run: its configuration, its server, where its processes log, and a fresh
database (with the processes started on it) for each measurement."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.config import BenchConfig
from bench.procs import Stack
from bench.server import BenchServer


@dataclass
class Session:
    config: BenchConfig
    server: BenchServer
    logs: Path

    def settings(self) -> dict[str, str]:
        """The OUTLAST_* settings every process of the run gets (the rest are the defaults)."""
        return {
            "OUTLAST_LEASE_TTL_S": str(self.config.lease_ttl_s),
            "OUTLAST_REAPER_INTERVAL_S": str(self.config.reaper_interval_s),
            "OUTLAST_POLL_INTERVAL_S": str(self.config.poll_interval_s),
        }

    @contextmanager
    def database(self, name: str) -> Iterator[Stack]:
        """A fresh migrated database and a Stack on it; every process stopped and the database
        dropped afterwards."""
        url = self.server.clone()
        stack = Stack(url, self.logs / name, self.settings())
        try:
            yield stack
        finally:
            stack.stop_all()
            self.server.drop(url)


def say(message: str) -> None:
    """Progress, on stderr: stdout carries only the result."""
    print(f"bench: {message}", file=sys.stderr, flush=True)
