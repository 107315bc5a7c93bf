"""Sections 1-3: ceiling A, the queue core, and graphs against ceiling B.

1. Ceiling A (bench.ceiling_sql): plain SQL claim+complete in 1 and 2 processes. The best loop
   (several connections per process, batches of 10, the completion and the next claim in one
   pipeline) is the ceiling the queue core is compared with; the single-connection loop (one task
   per statement, or ten) is printed below it, labelled.
2. Queue core: `bench-noop-fn` tasks (a function task that only counts, ADR 0006) submitted in
   bulk and drained by 1 and 2 real worker processes with the product's default settings but the
   slots (`--concurrency`, BENCH_QUEUE_CONCURRENCY: 200, the loop's tasks in flight): claim,
   heartbeat, fenced group completion, event rows. Compared with ceiling A's best loop at the same
   process count. The same drains without event rows (a bench-only switch, ADR 0019), and the
   queue's statements alone (bench.queue_sql), show where the time goes.
3. Ceiling B (bare `ainvoke`, stock saver, in this process) against the same graphs as Outlast
   tasks (one worker process), at the same concurrency: tasks/s for a one-node and a ten-node
   graph, and the cost of one node boundary, (1/rate10 - 1/rate1) / 9. The four runs alternate
   for `rounds` rounds and each figure is the median, so a slow minute on a shared machine does
   not land on one side only.
"""

from __future__ import annotations

from statistics import median

import psycopg

from bench.ceiling_graph import ceiling_b
from bench.ceiling_sql import ceiling_a, ceiling_pooled
from bench.drain import timed_drain
from bench.queue_sql import queue_statements
from bench.session import Session, say
from bench.stats import per_boundary_ms
from bench.table import Row, Target

# (loop, processes) -> tasks/s; loop "best" (several connections per process, batches of 10),
# "single-1" or "single-10" (one connection per process, 1 or 10 tasks a statement)
Ceilings = dict[tuple[str, int], float]
BATCH = 10


def ceilings(session: Session) -> tuple[list[Row], Ceilings]:
    tasks = session.config.count("ceiling_tasks")
    conns = session.config.ceiling_connections
    measured: Ceilings = {}
    rows = []
    # Batches of 10 (the loop) and of the worker's slots over the loop's connections, so
    # the loop holds as many tasks at once as a queue core worker process (4 x 50 = 200 slots):
    # bound by commit latency, a loop drains tasks in flight / (two commits), whoever runs it,
    # so the comparison is at equal tasks in flight (ADR 0019). The queue core is compared with
    # the faster batch.
    batches = sorted({BATCH, session.config.ceiling_batch})
    with session.database("ceiling-a") as stack:
        for processes in (1, 2):
            for batch in batches:
                say(f"ceiling A: {tasks} tasks, {conns} conns x {processes} proc, batch {batch}")
                rate = ceiling_pooled(stack.url, tasks, batch, processes, conns)
                measured[("best", processes)] = max(rate, measured.get(("best", processes), 0.0))
                note = (
                    f"the best raw loop: {conns} connections per process (a thread each), claims "
                    "with FOR UPDATE SKIP LOCKED, each batch completed in one statement; that "
                    "completion and the next claim share one pipeline (two commits, one round "
                    f"trip); batches of {' and '.join(map(str, batches))} ({conns} x "
                    f"{batches[-1]}: as many tasks at once as a worker's "
                    f"{session.config.queue_concurrency} slots); the queue core is compared "
                    "with the faster of the two"
                    if processes == 1 and batch == batches[0]
                    else ""
                )
                rows.append(
                    Row(
                        "1",
                        f"ceiling A: {conns} conns x batch {batch}, {processes} proc",
                        rate,
                        "tasks/s",
                        note=note,
                    )
                )
        for processes in (1, 2):
            for batch in (1, BATCH):
                say(f"ceiling A, 1 connection: {tasks} tasks, batch {batch}, {processes} proc")
                rate = ceiling_a(stack.url, tasks, batch, processes)
                measured[(f"single-{batch}", processes)] = rate
                what = "1 task/stmt" if batch == 1 else f"batch {BATCH}"
                note = (
                    "one connection per process: claim, then complete, then claim (bound by "
                    "round trips); the old ceiling A"
                    if processes == 1 and batch == 1
                    else ""
                )
                rows.append(
                    Row(
                        "1",
                        f"ceiling A, 1 conn: {what}, {processes} proc",
                        rate,
                        "tasks/s",
                        note=note,
                    )
                )
    return rows, measured


# Bench only, for the event rows' cost (ADR 0019): in a database used for nothing else, the table
# is renamed and a view that swallows inserts takes its name, so the product's statements run
# unchanged and write no event row. What is left of an event's cost is the trigger's call (a
# plpgsql function returning NULL per row), so "without" is, if anything, slower than it would be
# with no event rows at all.
NO_EVENT_ROWS = """
ALTER TABLE task_events RENAME TO task_events_bench_kept;
CREATE VIEW task_events AS SELECT * FROM task_events_bench_kept WHERE false;
CREATE FUNCTION bench_no_event_row() RETURNS trigger LANGUAGE plpgsql
AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER bench_no_event_row INSTEAD OF INSERT ON task_events
FOR EACH ROW EXECUTE FUNCTION bench_no_event_row();
"""


def without_event_rows(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(NO_EVENT_ROWS)


def _core_drain(session: Session, workers: int, *, events: bool) -> float:
    cfg = session.config
    tasks, slots = cfg.count("queue_tasks"), cfg.queue_concurrency
    name = f"queue-{workers}" if events else f"queue-no-events-{workers}"
    with session.database(name) as stack:
        without = "" if events else " WITHOUT event rows"
        say(f"queue core{without}: {tasks} bench-noop-fn tasks, {workers} worker(s) x {slots}")
        if not events:
            without_event_rows(stack.url)
        stack.reaper()
        stack.workers(workers, slots)
        return timed_drain(stack, "bench-noop-fn", tasks)


def queue_core(session: Session, ceiling: Ceilings) -> list[Row]:
    cfg = session.config
    tasks = cfg.count("queue_tasks")
    rows = []
    slots = cfg.queue_concurrency
    for workers in (1, 2):
        # With and without event rows alternate (with, without, with, without), so a slow
        # minute on a shared machine does not land on one side only; each figure is the mean
        # of its two drains.
        rates: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(2):
            for events in (True, False):
                rates[events].append(_core_drain(session, workers, events=events))
        rate, bare = (sum(rates[e]) / len(rates[e]) for e in (True, False))
        note = (
            f"a no-op function task (no graph, no checkpoint) through real worker processes "
            f"(python -m worker, {slots} slots each): claim, heartbeat, fenced group "
            f"completion, event rows; baseline: ceiling A's best loop (the faster batch size), "
            "same process count; mean of 2 drains alternating with those without event rows"
            if workers == 1
            else ""
        )
        rows.append(
            Row(
                "2",
                f"queue core: no-op tasks, {workers} worker proc",
                rate,
                "tasks/s",
                baseline=ceiling.get(("best", workers)),
                target=Target(">=", 0.8),
                note=note,
            )
        )
        rows.append(
            Row(
                "2",
                f"queue core, {workers} worker proc, NO event rows",
                bare,
                "tasks/s",
                baseline=rate,
                note="bench only (ADR 0019): the same drain with task_events replaced by a view "
                "that drops every insert; baseline: the queue core with its event rows, above; "
                "the ratio is what the event rows cost; drains one by one: "
                + ", ".join(
                    f"{'with' if e else 'without'} {r:,.0f}"
                    for pair in zip(rates[True], rates[False], strict=True)
                    for e, r in zip((True, False), pair, strict=True)
                ),
            )
        )
    for other in sorted({cfg.concurrency, 20, 100} - {slots}):
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
                baseline=ceiling.get(("best", 1)),
                note={
                    20: "the same drain at another slot count (a claim takes half the "
                    "slots: 20 slots claim 10 at a time, as ceiling A batch 10)",
                    100: "the queue core's setting before ADR 0019's amendment: half the tasks "
                    "in flight of ceiling A's best loop",
                }.get(other, ""),
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
            "session settings; baseline: ceiling A's single-connection loop, batch 10"
            if processes == 1
            else ""
        )
        rows.append(
            Row(
                "2",
                f"queue statements alone, {processes} proc",
                rate,
                "tasks/s",
                baseline=ceiling.get(("single-10", processes)),
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
