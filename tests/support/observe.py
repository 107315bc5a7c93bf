"""Synchronous reads of a test database, for tests that watch real processes."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg.rows import dict_row


class Observer:
    def __init__(self, url: str) -> None:
        self.conn = psycopg.connect(url, autocommit=True, row_factory=dict_row)

    def rows(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        return self.conn.execute(sql, params).fetchall()  # type: ignore[arg-type]

    def value(self, sql: str, *params: Any) -> Any:
        row = self.conn.execute(sql, params).fetchone()  # type: ignore[arg-type]
        return None if row is None else next(iter(row.values()))

    def task(self, task_id: uuid.UUID) -> dict[str, Any]:
        return self.rows("SELECT * FROM tasks WHERE id = %s", task_id)[0]

    def state(self, task_id: uuid.UUID) -> str:
        return str(self.task(task_id)["state"])

    def events(self, task_id: uuid.UUID) -> list[str]:
        rows = self.rows("SELECT kind FROM task_events WHERE task_id = %s ORDER BY id", task_id)
        return [r["kind"] for r in rows]

    def checkpoints(self, task_id: uuid.UUID) -> list[dict[str, Any]]:
        """The thread's checkpoints in the order they were written (checkpoint_order)."""
        return self.rows(
            "SELECT checkpoint_id, parent_checkpoint_id, (metadata->>'step')::int AS step,"
            " metadata->>'source' AS source, lease_epoch AS epoch"
            " FROM checkpoints LEFT JOIN checkpoint_order"
            " USING (thread_id, checkpoint_ns, checkpoint_id)"
            " WHERE thread_id = %s AND checkpoint_ns = ''"
            " ORDER BY coalesce(seq, 0), checkpoint_id",
            str(task_id),
        )

    def submit(self, graph: str, input: dict[str, Any], **fields: Any) -> uuid.UUID:
        columns = {
            "tenant": "default",
            "graph": graph,
            "input": psycopg.types.json.Jsonb(input),
            "max_attempts": 3,
        }
        columns.update(fields)
        names = ", ".join(columns)
        marks = ", ".join(["%s"] * len(columns))
        task_id = self.value(
            f"WITH t AS (INSERT INTO tasks ({names}) VALUES ({marks}) RETURNING id, tenant),"  # noqa: S608
            " e AS (INSERT INTO task_events (tenant, task_id, kind, to_state)"
            " SELECT tenant, id, 'submitted', 'queued' FROM t)"
            " SELECT id FROM t",
            *columns.values(),
        )
        return uuid.UUID(str(task_id))

    def call(self, statement: str, **params: Any) -> list[dict[str, Any]]:
        """Run one of the queue's named statements (db/queries), as the API would: as a key
        of tenant `default` (the tenant `submit` files tasks under) unless told otherwise."""
        from db.sql import query

        sql = query(statement)
        if "%(tenant)s" in sql:
            params.setdefault("tenant", "default")
        cur = self.conn.execute(sql, params)
        return cur.fetchall() if cur.description else []

    def close(self) -> None:
        self.conn.close()


def assert_linear(checkpoints: list[dict[str, Any]]) -> None:
    """The thread's checkpoints form one chain: each one's parent is the one before it."""
    ids = [c["checkpoint_id"] for c in checkpoints]
    parents = [c["parent_checkpoint_id"] for c in checkpoints]
    assert parents[0] is None, "the first checkpoint has no parent"
    assert parents[1:] == ids[:-1], f"history forked: parents {parents} for ids {ids}"
