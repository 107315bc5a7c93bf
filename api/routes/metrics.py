"""GET /metrics: Prometheus text exposition of the queue's state, read from Postgres at scrape
time (so every API replica reports the same numbers)."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from api.deps import MetricsRead, PoolDep
from db import metrics, rate_limit
from db.connect import Row
from db.states import TaskState

router = APIRouter(tags=["health"])
WORKER_STATES = ("running", "stopping", "stopped", "lost")


class Snapshot(Collector):
    def __init__(self, row: Row) -> None:
        self.row = row

    def collect(self) -> Iterator[GaugeMetricFamily]:
        row = self.row
        tasks = GaugeMetricFamily("outlast_tasks", "Tasks per state.", labels=["state"])
        for state in TaskState:
            tasks.add_metric([state.value], row["tasks_by_state"].get(state.value, 0))
        yield tasks
        yield GaugeMetricFamily(
            "outlast_ready_tasks", "Queued tasks whose run_at has come.", value=row["ready"]
        )
        yield GaugeMetricFamily(
            "outlast_oldest_ready_task_age_seconds",
            "How long the oldest ready task has waited for a worker.",
            value=row["oldest_ready_age_s"],
        )
        yield GaugeMetricFamily(
            "outlast_dead_letters_open",
            "Dead letters not redriven.",
            value=row["dead_letters_open"],
        )
        waits = GaugeMetricFamily("outlast_waits_open", "Open waits on people.", labels=["kind"])
        for kind in ("approval", "input"):
            waits.add_metric([kind], row["waits_open"].get(kind, 0))
        yield waits
        workers = GaugeMetricFamily(
            "outlast_workers", "Worker processes per state.", labels=["state"]
        )
        for worker_state in WORKER_STATES:
            workers.add_metric([worker_state], row["workers_by_state"].get(worker_state, 0))
        yield workers


USAGE_LABELS = ["tenant", "agent", "provider", "model"]
TOKEN_KINDS = ("input", "output", "cache_read", "cache_write")


class ModelUsage(Collector):
    """The scraping key's tenant's (the operator's: every tenant's) model calls, tokens and cost
    from the LLM-call journal, per agent (empty for a task submitted to a graph), provider and
    model: counters, summed at scrape time."""

    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows

    def collect(self) -> Iterator[CounterMetricFamily]:
        calls = CounterMetricFamily(
            "outlast_model_calls", "Model calls journaled.", labels=USAGE_LABELS
        )
        tokens = CounterMetricFamily(
            "outlast_model_tokens", "Model tokens by kind.", labels=[*USAGE_LABELS, "kind"]
        )
        cost = CounterMetricFamily(
            "outlast_model_cost_micro_usd", "Model cost in micro-USD.", labels=USAGE_LABELS
        )
        for row in self.rows:
            labels = [row[label] for label in USAGE_LABELS]
            calls.add_metric(labels, row["calls"])
            cost.add_metric(labels, row["cost_micro_usd"])
            for kind in TOKEN_KINDS:
                tokens.add_metric([*labels, kind], row[f"{kind}_tokens"])
        yield from (calls, tokens, cost)


class RateBuckets(Collector):
    """The scraping key's tenant's provider rate-limit buckets now (ADR 0016): tokens and
    requests available per provider, model and key fingerprint (never the key)."""

    def __init__(self, rows: list[Row]) -> None:
        self.rows = [r for r in rows if r["key_fingerprint"] is not None]

    def collect(self) -> Iterator[GaugeMetricFamily]:
        labels = ["provider", "model", "key_fingerprint"]
        tokens = GaugeMetricFamily(
            "outlast_rate_limit_tokens_available",
            "Tokens a provider key's model may take now (its bucket).",
            labels=labels,
        )
        requests = GaugeMetricFamily(
            "outlast_rate_limit_requests_available",
            "Requests a provider key's model may take now (its bucket).",
            labels=labels,
        )
        for row in self.rows:
            values = [row[label] for label in labels]
            if row["tokens_available"] is not None:
                tokens.add_metric(values, row["tokens_available"])
            if row["requests_available"] is not None:
                requests.add_metric(values, row["requests_available"])
        yield from (tokens, requests)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def scrape(caller: MetricsRead, pool: PoolDep) -> Response:
    registry = CollectorRegistry(auto_describe=False)
    # The operator's keys see every tenant's tasks; a tenant's keys its own (workers are shared).
    tenant = None if caller.operator else caller.tenant
    registry.register(Snapshot(await metrics.snapshot(pool, tenant=tenant)))
    registry.register(ModelUsage(await metrics.model_usage(pool, tenant=tenant)))
    registry.register(RateBuckets(await rate_limit.list_(pool, tenant=caller.tenant)))
    return Response(generate_latest(registry), media_type="text/plain; version=0.0.4")
