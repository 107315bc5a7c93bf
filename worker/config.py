"""The worker's configuration: a frozen snapshot of the settings it runs with."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from db.outcome import RetryPolicy
from outlast.settings import Settings, timing_problems
from outlast.tool import ToolLimits
from worker.ratelimits import key_fingerprints


@dataclass(frozen=True)
class WorkerConfig:
    concurrency: int = 8
    lease_ttl_s: float = 30.0
    heartbeat_every_s: float = 10.0
    poll_interval_s: float = 2.0
    notify: bool = True
    claim_fair: bool = True  # lease_claim_fair: round-robin across agents, with their caps
    shutdown_grace_s: float = 0.0
    wait_timeout_s: float = 86_400.0
    retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(base_s=2.0, max_s=600.0))
    prices_file: Path | None = None  # model price overrides for the LLM-call journal
    tools: ToolLimits = field(default_factory=ToolLimits)  # timeouts, caps, the SSRF allow-list
    # (provider, key fingerprint) of the provider keys, for the rate-limit buckets (ADR 0016)
    provider_keys: tuple[tuple[str, str], ...] = ()
    model_rate_wait_max_s: float = 10.0  # longer rate-limit waits give the task back
    webhook_timeout_s: float = 10.0  # longest one webhook delivery attempt
    claimers: int = 1  # claim loops side by side (worker/claimer.py); see queue_parallelism
    completion_writers: int = 1  # group-commit statements in flight (worker/completions.py)

    def __post_init__(self) -> None:
        if problems := timing_problems(self.lease_ttl_s, self.heartbeat_every_s):
            raise ValueError("; ".join(problems))

    @property
    def claim_batch(self) -> int:
        """The most tasks one claim takes: half the slots, so that under a backlog the next
        claim runs while the last batch's completions are being written."""
        return max(1, (self.concurrency + 1) // 2)

    @classmethod
    def from_settings(cls, settings: Settings, concurrency: int | None = None) -> WorkerConfig:
        return cls(
            concurrency=concurrency or settings.worker_concurrency,
            lease_ttl_s=settings.lease_ttl_s,
            heartbeat_every_s=settings.heartbeat_every_s,
            poll_interval_s=settings.poll_interval_s,
            notify=settings.notify,
            claim_fair=settings.claim_fair,
            shutdown_grace_s=settings.shutdown_grace_s,
            wait_timeout_s=settings.wait_timeout_s,
            retry=RetryPolicy(base_s=settings.retry_base_s, max_s=settings.retry_max_s),
            prices_file=settings.model_prices_file,
            tools=ToolLimits.from_settings(settings),
            provider_keys=key_fingerprints(settings),
            model_rate_wait_max_s=settings.model_rate_wait_max_s,
            webhook_timeout_s=settings.webhook_timeout_s,
            **queue_parallelism(concurrency or settings.worker_concurrency),
        )


def queue_parallelism(concurrency: int) -> dict[str, int]:
    """How many claims and group completions a worker keeps in flight at once, from its slots.
    A worker with many slots runs short tasks by the thousand a second, and one statement's
    round trip at a time bounded it (ADR 0019): two claim loops and two completion writers
    (the queue pool grows by two connections). A worker with one to three slots claims and
    completes one statement at a time."""
    many = concurrency >= 4
    return {"claimers": 2 if many else 1, "completion_writers": 2 if many else 1}
