"""Sections 1-3: ceiling A, the queue core, and graphs against ceiling B.

1. Ceiling A (bench.ceiling_sql): plain SQL claim+complete, one task per statement and ten, in 1
   and 2 processes.
2. Queue core: `bench-noop` tasks (one node that only counts) submitted in bulk and drained by
   1 and 2 real worker processes. The worker has one way to run a task, so the no-op task goes
   through everything a real task does: claim, heartbeat, the fenced checkpoints LangGraph writes
   (input, the node's pending writes, the node's checkpoint), the fenced completion, and the
   event rows. Compared with ceiling A batched at the same process count. Beside it, the queue's
   statements alone (bench.queue_sql), to show where the time goes.
3. Ceiling B (bare `ainvoke`, stock saver, in this process) against the same graphs as Outlast
   tasks (one worker process), at the same concurrency: tasks/s for a one-node and a ten-node
   graph, and the cost of one node boundary, (1/rate10 - 1/rate1) / 9. The four runs alternate
   for `rounds` rounds and each figure is the median, so a slow minute on a shared machine does
   not land on one side only.
"""

from __future__ import annotations

from statistics import median

from bench.ceiling_graph import ceiling_b
from bench.ceiling_sql import ceiling_a
from bench.drain import timed_drain
from bench.queue_sql import queue_statements
from bench.session import Session, say
from bench.stats import per_boundary_ms
from bench.table import Row, Target

Ceilings = dict[tuple[int, int], float]  # (batch, processes) -> tasks/s


def ceilings(session: Session) -> tuple[list[Row], Ceilings]:
    tasks = session.config.count("ceiling_tasks")
    measured: Ceilings = {}
    rows = []
    with session.database("ceiling-a") as stack:
        for processes in (1, 2):
            for batch in (1, 10):
                say(f"ceiling A: {tasks} tasks, batch {batch}, {processes} process(es)")
                rate = ceiling_a(stack.url, tasks, batch, processes)
                measured[(batch, processes)] = rate
                what = "1 task/stmt" if batch == 1 else "batch 10"
                rows.append(
                    Row("1", f"ceiling A: plain SQL, {what}, {processes} proc", rate, "tasks/s")
                )
    return rows, measured


def queue_core(session: Session, ceiling: Ceilings) -> list[Row]:
    cfg = session.config
    tasks = cfg.count("queue_tasks")
    rows = []
    slots = cfg.queue_concurrency
    for workers in (1, 2):
        with session.database(f"queue-{workers}") as stack:
            say(f"queue core: {tasks} bench-noop-fn tasks, {workers} worker(s) x {slots}")
            stack.reaper()
            stack.workers(workers, slots)
            rate = timed_drain(stack, "bench-noop-fn", tasks)
        note = (
            f"a no-op function task (no graph, no checkpoint) through real worker processes "
            f"(python -m worker, {slots} slots each): claim, heartbeat, fenced group "
            f"completion, event rows; baseline: ceiling A batch 10, same process count"
            if workers == 1
            else ""
        )
        rows.append(
            Row(
                "2",
                f"queue core: no-op tasks, {workers} worker proc",
                rate,
                "tasks/s",
                baseline=ceiling.get((10, workers)),
                target=Target(">=", 0.8),
                note=note,
            )
        )
    for other in sorted({cfg.concurrency, 20} - {slots}):
        with session.database(f"queue-1x{other}") as stack:
            say(f"queue core: {tasks} bench-noop-fn tasks, 1 worker x {other} slots")
            stack.reaper()
            stack.workers(1, other)
            rate = timed_drain(stack, "bench-noop-fn", tasks)
        rows.append(
            Row(
                "2",
                f"queue core, 1 worker proc, {other} slots",
                rate,
                "tasks/s",
                baseline=ceiling.get((10, 1)),
                note="the same drain at another slot count (a claim takes half the "
                "slots: 20 slots claim 10 at a time, as ceiling A batch 10)"
                if other == 20
                else "",
            )
        )
    sql_tasks = cfg.count("ceiling_tasks")
    for processes in (1, 2):
        with session.database(f"queue-sql-{processes}") as stack:
            say(f"queue statements alone: {sql_tasks} tasks, {processes} process(es)")
            rate = queue_statements(stack.url, sql_tasks, 10, processes)
        note = (
            "no worker: lease_claim_many x10 then outcome_complete_many for the 10, with "
            "their event rows, one connection per process, the worker queue pool's "
            "session settings"
            if processes == 1
            else ""
        )
        rows.append(
            Row(
                "2",
                f"queue statements alone, {processes} proc",
                rate,
                "tasks/s",
                baseline=ceiling.get((10, processes)),
                note=note,
            )
        )
    return rows


def graph_runs(session: Session) -> list[Row]:
    cfg = session.config
    short = cfg.count("graph_tasks")
    long = max(1, short // 4)
    rates: dict[str, list[float]] = {"b1": [], "b10": [], "o1": [], "o10": []}
    with session.database("graphs") as stack:
        stack.reaper()
        stack.workers(1, cfg.concurrency)
        for n in range(cfg.rounds):
            say(
                f"graphs, round {n + 1} of {cfg.rounds}: {short} one-node and {long} ten-node "
                "tasks, bare and as Outlast tasks"
            )
            rates["b1"].append(ceiling_b(stack.url, "noop", short, cfg.concurrency))
            rates["o1"].append(timed_drain(stack, "bench-noop", short))
            rates["b10"].append(ceiling_b(stack.url, "chain10", long, cfg.concurrency))
            rates["o10"].append(timed_drain(stack, "bench-chain10", long))
    b1, b10, o1, o10 = (median(rates[k]) for k in ("b1", "b10", "o1", "o10"))
    b_boundary = per_boundary_ms(b1, b10, 9)
    o_boundary = per_boundary_ms(o1, o10, 9)
    per_round = sorted(
        per_boundary_ms(rates["o1"][i], rates["o10"][i], 9)
        / per_boundary_ms(rates["b1"][i], rates["b10"][i], 9)
        for i in range(cfg.rounds)
    )
    return [
        Row(
            "3",
            "ceiling B: bare ainvoke, 1-node graph",
            b1,
            "tasks/s",
            note=f"stock AsyncPostgresSaver, durability=sync, {cfg.concurrency} runs at once in "
            f"one process; Outlast rows: 1 worker process, same concurrency; medians of "
            f"{cfg.rounds} alternating rounds",
        ),
        Row("3", "ceiling B: bare ainvoke, 10-node graph", b10, "tasks/s"),
        Row(
            "3",
            "ceiling B: per node boundary",
            b_boundary,
            "ms",
            note="(1/rate(10-node) - 1/rate(1-node)) / 9: the time one more node and its "
            "checkpoint add to a task, at that concurrency",
        ),
        Row(
            "3", "Outlast task, 1-node graph", o1, "tasks/s", baseline=b1, target=Target(">=", 0.5)
        ),
        Row("3", "Outlast task, 10-node graph", o10, "tasks/s", baseline=b10),
        Row(
            "3",
            "Outlast per node boundary (fenced)",
            o_boundary,
            "ms",
            baseline=b_boundary,
            target=Target("<=", 1.25),
            note="ratio of the medians; the same ratio round by round: "
            + ", ".join(f"{r:.2f}" for r in per_round),
        ),
    ]
