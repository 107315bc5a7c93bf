"""Section 9: agents' storage and the journal's cost.

a. Journal overhead per model call: the same small request to the fake model server (in this
   process, OpenAI wire format, through the real SDK), with the fenced journal (a begin and a
   finish statement around the call) and without, alternating in rounds; each side's median.
b. Checkpoint + journal bytes per step of a chat agent (bench.graphs:agent, one node that sends
   the whole conversation to the model and appends its answer): each step adds a user message
   of `USER_BYTES` and an answer of `ANSWER_BYTES` characters that do not compress. Bytes are
   the rows a step adds (pg_column_size of each row, TOAST included) to the checkpoint tables,
   checkpoint_order, transcript_messages and llm_calls: once with the fenced saver and the
   journal (messages stored once, ADR 0012), once with the stock AsyncPostgresSaver and a
   journal that stores each request whole, as both did before. The step's new content is
   USER_BYTES + ANSWER_BYTES. The last step's bytes are also split by table and column (SPLIT;
   JSON columns by top-level key) in the step-200 row's footnote: where the bytes are.
c. A real worker's RSS with `rss_tasks` bench-agent tasks in flight, each waiting on a model
   call that the fake server never answers, beside the same worker idle.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Sequence
from statistics import median
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from psycopg import sql

from bench import backlog, graphs
from bench.procs import rss_mib, scalar, wait_for
from bench.session import Session, say
from bench.table import Row, Target
from db import lease, llm_call, tasks, workers
from db.connect import Pool, open_pool
from outlast.models import ModelChain, ModelRequest, PriceBook, UserMessage, call_model
from outlast.models.journal import JournalEntry
from outlast.models.provider import ModelRef
from tests.support.fake_llm import OPENAI, FakeLLM, Hang, Reply
from worker.checkpointer import FencedSaver
from worker.journal import PgJournal

USER_BYTES = 500
ANSWER_BYTES = 1000
STEPS = (10, 50, 200)
CALLS_PER_ROUND = 25
ROUNDS = 8

BYTES_SQL = """
SELECT
  (SELECT coalesce(sum(pg_column_size(c.*)), 0) FROM checkpoints AS c WHERE thread_id = %(t)s)
  + (SELECT coalesce(sum(pg_column_size(b.*)), 0) FROM checkpoint_blobs AS b
     WHERE thread_id = %(t)s)
  + (SELECT coalesce(sum(pg_column_size(w.*)), 0) FROM checkpoint_writes AS w
     WHERE thread_id = %(t)s)
  + (SELECT coalesce(sum(pg_column_size(o.*)), 0) FROM checkpoint_order AS o
     WHERE thread_id = %(t)s)
  + (SELECT coalesce(sum(pg_column_size(m.*)), 0) FROM transcript_messages AS m
     WHERE tenant = %(tenant)s)
  + (SELECT coalesce(sum(pg_column_size(l.*)), 0) FROM llm_calls AS l
     WHERE task_id = %(t)s::uuid) AS total,
  (SELECT coalesce(sum(pg_column_size(m.*)), 0) FROM transcript_messages AS m
   WHERE tenant = %(tenant)s AND encoding = 'text') AS texts
"""


# Where a step's bytes are (the footnote): each table's rows split by column, and the JSON
# columns that carry most of them split by top-level key. A row's header and alignment is the
# row's size less its columns' ("row overhead").
SPLIT = (
    ("checkpoints", "thread_id = %(t)s", ("checkpoint", "metadata")),
    ("checkpoint_blobs", "thread_id = %(t)s", ()),
    ("checkpoint_writes", "thread_id = %(t)s", ()),
    ("checkpoint_order", "thread_id = %(t)s", ()),
    ("transcript_messages", "tenant = %(tenant)s", ()),
    ("llm_calls", "task_id = %(t)s::uuid", ("request", "response")),
)
COLUMNS_SQL = """
SELECT column_name FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name = %(table)s ORDER BY ordinal_position
"""


def text(seed: str, size: int) -> str:
    """`size` characters that do not compress (hex of a hash chain): stored bytes are honest."""
    out, block = "", seed.encode()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block.hex()
    return out[:size]


class WholeRequestJournal(PgJournal):
    """The journal as it was before transcripts: each call's row holds its whole request."""

    async def begin(
        self, step_key: str, seq: int, request: ModelRequest, models: Sequence[ModelRef] = ()
    ) -> JournalEntry:
        key = llm_call.Key(step_key, seq)
        dumped = request.model_dump(mode="json")
        begun = await llm_call.begin(
            self.pool, self.task_id, self.epoch, key, request.digest(), dumped
        )
        return JournalEntry(begun.call_id)


async def _claimed(pool: Pool, tenant: str) -> tuple[uuid.UUID, int]:
    """A bench-agent task of `tenant`, claimed with a lease long enough for the whole run."""
    worker_id = uuid.uuid4()
    graph = ("bench-agent",)
    await workers.register(pool, worker_id, hostname="bench", pid=1, concurrency=1, graphs=graph)
    new = tasks.NewTask(graph="bench-agent", input={}, max_attempts=1)
    await tasks.insert(pool, new, tenant=tenant)
    (claim,) = await lease.claim_many(pool, worker_id, limit=1, ttl_s=3600, graphs=graph)
    return claim.task_id, claim.epoch


Added = list[tuple[int, int]]


async def _bytes(pool: Pool, task_id: uuid.UUID, tenant: str) -> tuple[int, int]:
    """(all bytes, bytes of text nodes) the run has stored so far."""
    async with pool.connection() as conn:
        cur = await conn.execute(BYTES_SQL, {"t": str(task_id), "tenant": tenant})
        row = await cur.fetchone()
    return (int(row["total"]), int(row["texts"])) if row else (0, 0)


Split = dict[str, int]


async def _split(pool: Pool, task_id: uuid.UUID, tenant: str) -> Split:
    """Bytes stored so far for the run, by `table.column` (and `table.column->key` for the JSON
    columns of SPLIT, `table.(row overhead)` for headers, `transcript_messages[encoding]` for
    the nodes of each encoding), and each table's `rows`."""
    params = {"t": str(task_id), "tenant": tenant}
    out: Split = {}
    async with pool.connection() as conn:
        for table, where, json_columns in SPLIT:
            cur = await conn.execute(COLUMNS_SQL, {"table": table})
            columns = [r["column_name"] for r in await cur.fetchall()]
            x, size = sql.Identifier("x"), sql.SQL("coalesce(sum(pg_column_size({})), 0) AS {}")
            sizes: list[sql.Composable] = [size.format(sql.SQL("x.*"), sql.Identifier("row_"))]
            sizes += [size.format(sql.Identifier("x", c), sql.Identifier(c)) for c in columns]
            sizes += [sql.SQL("count(*) AS rows_")]
            sizes += [
                size.format(sql.SQL("{} -> {}").format(sql.Identifier("x", c), k), name)
                for c in json_columns
                for k, name in await _keys(conn, table, where, c, params)
            ]
            statement = sql.SQL("SELECT {} FROM {} AS {} WHERE {}").format(
                sql.SQL(", ").join(sizes), sql.Identifier(table), x, sql.SQL(where)
            )
            row = await (await conn.execute(statement, params)).fetchone()
            if row is None:
                continue
            for name, value in row.items():
                out[name if "->" in name else f"{table}.{name}"] = int(value)
            out[f"{table}.(row overhead)"] = out.pop(f"{table}.row_") - sum(
                int(row[c]) for c in columns
            )
            out[f"{table} rows"] = out.pop(f"{table}.rows_")
        cur = await conn.execute(
            "SELECT encoding, count(*) AS n, coalesce(sum(pg_column_size(m.*)), 0) AS b"
            " FROM transcript_messages AS m WHERE tenant = %(tenant)s GROUP BY encoding",
            params,
        )
        for r in await cur.fetchall():
            out[f"transcript_messages[{r['encoding']}]"] = int(r["b"])
    return out


async def _keys(
    conn: Any, table: str, where: str, column: str, params: dict[str, str]
) -> list[tuple[sql.Literal, sql.Identifier]]:
    """The top-level keys of a JSON column in the run's rows, each as a literal and a label."""
    statement = sql.SQL("SELECT DISTINCT jsonb_object_keys({}) AS key FROM {} WHERE {}").format(
        sql.Identifier(column), sql.Identifier(table), sql.SQL(where)
    )
    keys = [r["key"] for r in await (await conn.execute(statement, params)).fetchall()]
    return [(sql.Literal(k), sql.Identifier(f"{table}.{column}->{k}")) for k in sorted(keys)]


def _minus(after: Split, before: Split) -> Split:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


def split_text(split: Split) -> str:
    """The split as one line per table: its total, then its parts, largest first."""
    lines = []
    for table, _, _ in SPLIT:
        parts = {k[len(table) + 1 :]: v for k, v in split.items() if k.startswith(table + ".")}
        whole = {k: v for k, v in parts.items() if "->" not in k}
        total = sum(whole.values())
        if not total:
            continue

        def column(name: str, size: int, parts: Split = parts) -> str:
            keys = {k.split("->", 1)[1]: v for k, v in parts.items() if k.startswith(name + "->")}
            inner = ", ".join(f"{k} {v}" for k, v in sorted(keys.items(), key=lambda kv: -kv[1]))
            return f"{name} {size}" + (f" [{inner}]" if inner else "")

        shown = ", ".join(column(k, v) for k, v in sorted(whole.items(), key=lambda kv: -kv[1]))
        rows = split.get(f"{table} rows")
        lines.append(f"{table} {total} B" + (f" ({rows} rows)" if rows else "") + f": {shown}")
    nodes = ", ".join(
        f"{k[len('transcript_messages') :]} {v}"
        for k, v in sorted(split.items())
        if k.startswith("transcript_messages[")
    )
    if nodes:
        lines.append(f"transcript_messages by encoding: {nodes}")
    return "; ".join(lines)


async def _chat_bytes(
    pool: Pool, fake: FakeLLM, models: ModelChain, stock: bool, steps: Sequence[int] = STEPS
) -> tuple[Added, Split]:
    """(bytes, bytes of text nodes) each of the `steps`-th steps added, and the split of what
    the last of them added."""
    tenant = "bench-stock" if stock else "bench-outlast"
    task_id, epoch = await _claimed(pool, tenant)
    prices = PriceBook(None)
    if stock:
        saver: Any = AsyncPostgresSaver(pool)
        journal: PgJournal = WholeRequestJournal(pool, task_id, epoch, prices)
    else:
        saver = FencedSaver(pool, task_id, epoch)
        journal = PgJournal(pool, task_id, epoch, prices)
    graph = graphs.agent.compile(checkpointer=saver)
    configurable = {"thread_id": str(task_id), "outlast_journal": journal, "bench_models": models}
    added: Added = []
    before, split_before, split = (0, 0), {}, {}
    for step in range(1, max(steps) + 1):
        if step in steps:
            before = await _bytes(pool, task_id, tenant)
        if step == max(steps):
            split_before = await _split(pool, task_id, tenant)
        fake.script(OPENAI, Reply(text(f"answer {step}", ANSWER_BYTES)))
        question: Any = {"messages": [HumanMessage(content=text(f"question {step}", USER_BYTES))]}
        config: Any = {"configurable": configurable}
        await graph.ainvoke(question, config, durability="sync")
        if step in steps:
            after = await _bytes(pool, task_id, tenant)
            added.append((after[0] - before[0], after[1] - before[1]))
        if step == max(steps):
            split = _minus(await _split(pool, task_id, tenant), split_before)
    return added, split


async def _call_us(models: ModelChain, config: dict[str, Any] | None, calls: int) -> float:
    """Mean microseconds per call of `calls` calls with `config` (a journal in it, or None)."""
    request = ModelRequest(messages=(UserMessage(content="ping"),))
    started = time.perf_counter()
    for _ in range(calls):
        if config is not None:
            config["metadata"]["langgraph_step"] += 1  # each call a step of its own
        await call_model(config, request, models)
    return (time.perf_counter() - started) / calls * 1e6


async def _journal_overhead(pool: Pool, models: ModelChain) -> tuple[float, float]:
    task_id, epoch = await _claimed(pool, "bench-journal")
    journal = PgJournal(pool, task_id, epoch, PriceBook(None))
    config: dict[str, Any] = {
        "metadata": {"langgraph_step": 0, "langgraph_checkpoint_ns": "answer:1"},
        "configurable": {"outlast_journal": journal},
    }
    await _call_us(models, None, CALLS_PER_ROUND)  # warm up both paths
    await _call_us(models, config, CALLS_PER_ROUND)
    bare, journaled = [], []
    for _ in range(ROUNDS):
        bare.append(await _call_us(models, None, CALLS_PER_ROUND))
        journaled.append(await _call_us(models, config, CALLS_PER_ROUND))
    return median(bare), median(journaled)


async def _in_process(
    url: str, fake: FakeLLM
) -> tuple[tuple[float, float], tuple[Added, Split], tuple[Added, Split]]:
    pool = await open_pool(url, min_size=2, max_size=4)
    models = graphs.models(fake.url)
    try:
        overhead = await _journal_overhead(pool, models)
        ours = await _chat_bytes(pool, fake, models, stock=False)
        stock = await _chat_bytes(pool, fake, models, stock=True)
    finally:
        await models.aclose()
        await pool.close()
    return overhead, ours, stock


def _rss(session: Session, fake: FakeLLM) -> tuple[float, float]:
    count = session.config.count("rss_tasks")
    fake.reset()
    fake.script(OPENAI, *(Hang() for _ in range(count)))
    with session.database("transcripts-rss") as stack:
        (worker,) = stack.workers(1, count, BENCH_MODEL_URL=fake.url)
        time.sleep(1.0)
        idle = rss_mib(worker.pid)
        say(f"transcripts: {count} agent tasks waiting on a model that does not answer")
        hello = {"messages": [{"role": "user", "content": "hi"}]}
        backlog.submit(stack.url, "bench-agent", count, hello)

        def in_flight() -> bool:
            running = scalar(stack.url, "SELECT count(*) FROM tasks WHERE state = 'running'")
            return bool(running == count and len(fake.requests(OPENAI)) >= count)

        wait_for(in_flight, 180, f"{count} agent tasks waiting on the model")
        time.sleep(1.0)
        loaded = rss_mib(worker.pid)
        stack.kill(worker)
    return idle, loaded


def transcripts(session: Session) -> list[Row]:
    fake = FakeLLM()
    fake.start()
    try:
        with session.database("transcripts") as stack:
            say(f"transcripts: journal overhead, then a chat agent of {max(STEPS)} steps twice")
            (bare, journaled), (ours, split), (stock, _) = asyncio.run(_in_process(stack.url, fake))
        idle, loaded = _rss(session, fake)
    finally:
        fake.stop()
    new = USER_BYTES + ANSWER_BYTES
    count = session.config.count("rss_tasks")
    rows = [
        Row("9", "model call, fake server, no journal", bare, "µs"),
        Row(
            "9",
            "model call, fake server, fenced journal",
            journaled,
            "µs",
            baseline=bare,
            note=f"begin + finish statements around each call: {journaled - bare:.0f} µs a call; "
            f"median of {ROUNDS} alternating rounds of {CALLS_PER_ROUND} calls, one connection",
        ),
    ]
    for steps, (mine, texts), (theirs, _) in zip(STEPS, ours, stock, strict=True):
        rows.append(Row("9", f"stock saver + whole-request journal, step {steps}", theirs, "B"))
        rows.append(
            Row(
                "9",
                f"bytes added by step {steps} (checkpoints + journal)",
                mine,
                "B",
                baseline=new,
                target=Target("<=", 2.0) if steps == max(STEPS) else None,
                note=f"baseline: the step's new content ({USER_BYTES} + {ANSWER_BYTES} characters);"
                f" of the bytes added, {texts} are the two texts' nodes, the rest is structure"
                f" that does not grow with the history (LangGraph's three checkpoints of a turn"
                f" and their order rows, the list nodes, the journal row, each node's pending"
                f" writes, ADR 0025); stock adds {theirs / new:.1f}x"
                f" the new content at this step. Where this step's bytes are (pg_column_size,"
                f" by table and column; JSON columns also by key): {split_text(split)}"
                if steps == max(STEPS)
                else "",
            )
        )
    rows.append(Row("9", "worker RSS, idle (bench-agent registered)", idle, "MiB"))
    rows.append(
        Row(
            "9",
            f"worker RSS, {count} agent tasks waiting on the model",
            loaded,
            "MiB",
            note=f"one worker, --concurrency {count}; each task's node awaits a model call the "
            f"fake server never answers; {(loaded - idle) * 1024 / count:.0f} KiB per task",
        )
    )
    return rows
