"""SQLAlchemy models of Outlast's tables.

They describe the schema for Alembic (`alembic check` compares them with a migrated database) and
for plain CRUD. The queue's hot path does not go through them: it is SQL in db/queries/.
LangGraph's checkpoint tables are not here; `langgraph-checkpoint-postgres` owns and migrates them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    SmallInteger,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, BYTEA, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from db.states import TaskState

NOW = text("clock_timestamp()")
STATES_SQL = ", ".join(f"'{s.value}'" for s in TaskState)
TERMINAL_SQL = "'completed', 'failed', 'cancelled'"


class Base(DeclarativeBase):
    pass


class Task(Base):
    __tablename__ = "tasks"

    tenant: Mapped[str] = mapped_column(Text)

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )
    graph: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(Text, server_default=text("'queued'"))
    priority: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
    run_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=NOW)
    # When the task became ready: its place in the claim order once run_at has come. A retry or a
    # reaped lease moves run_at (backoff) and keeps ready_at (migration 0008).
    ready_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=NOW)
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    max_attempts: Mapped[int] = mapped_column(Integer)
    timeout_s: Mapped[int | None] = mapped_column(Integer)
    lease_epoch: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    worker_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempt_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_requested: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    resume_checkpoint_id: Mapped[str | None] = mapped_column(Text)
    resume_input: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    resume_patch: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    wait_timeout_s: Mapped[int | None] = mapped_column(Integer)
    on_wait_timeout: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(Text)
    request_hash: Mapped[str | None] = mapped_column(Text)
    agent: Mapped[str | None] = mapped_column(Text)
    agent_version: Mapped[int | None] = mapped_column(Integer)
    # The thread it was submitted on (migration 0027); NULL is its own thread, id = the task id.
    thread_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("threads.id")
    )
    # A replay (migration 0020): the task it replays, from which model call, with what overrides.
    replay_of: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    replay_from_call: Mapped[int | None] = mapped_column(Integer)
    agent_overrides: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # Why a `paused` task is paused: {"reason": "budget", scope, limit, spent, needed...}.
    pause: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    input: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, server_default=text("'{}'::jsonb")
    )
    result: Mapped[Any | None] = mapped_column(JSONB)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=NOW)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=NOW)

    __table_args__ = (
        CheckConstraint(f"state IN ({STATES_SQL})", name="tasks_state_valid"),
        CheckConstraint(
            "(state = 'running') = (worker_id IS NOT NULL AND lease_expires_at IS NOT NULL)",
            name="tasks_lease_iff_running",
        ),
        CheckConstraint(
            f"(state IN ({TERMINAL_SQL})) = (finished_at IS NOT NULL)",
            name="tasks_finished_iff_terminal",
        ),
        CheckConstraint("state <> 'failed' OR error IS NOT NULL", name="tasks_failed_has_error"),
        CheckConstraint(
            "state <> 'cancelled' OR cancel_requested", name="tasks_cancelled_was_requested"
        ),
        # A requested cancel always takes effect: the task is stopping (running) or cancelled.
        CheckConstraint(
            "NOT cancel_requested OR state IN ('running', 'cancelled')",
            name="tasks_cancel_requested_stops",
        ),
        CheckConstraint(
            "attempts >= 0 AND max_attempts BETWEEN 1 AND 1000", name="tasks_attempts_range"
        ),
        CheckConstraint("priority BETWEEN -100 AND 100", name="tasks_priority_range"),
        CheckConstraint(
            "(replay_of IS NULL) = (replay_from_call IS NULL)", name="tasks_replay_complete"
        ),
        CheckConstraint(
            "replay_from_call IS NULL OR replay_from_call >= 1",
            name="tasks_replay_from_call_positive",
        ),
        CheckConstraint("timeout_s IS NULL OR timeout_s > 0", name="tasks_timeout_positive"),
        CheckConstraint(
            "wait_timeout_s IS NULL OR wait_timeout_s > 0", name="tasks_wait_timeout_positive"
        ),
        CheckConstraint(
            "on_wait_timeout IS NULL OR on_wait_timeout IN ('fail', 'reject', 'default')",
            name="tasks_on_wait_timeout_valid",
        ),
        CheckConstraint(
            "state NOT IN ('waiting_for_approval', 'waiting_for_input', 'paused') "
            "OR worker_id IS NULL",
            name="tasks_waiting_holds_no_lease",
        ),
        CheckConstraint("state <> 'paused' OR pause IS NOT NULL", name="tasks_paused_has_pause"),
        # The claim reads this index in order: ready tasks, highest priority, oldest readiness.
        # run_at and graph are keys too, so that the claim's `run_at <= now` and `graph = ANY`
        # are tested on the index entry, without visiting the table.
        Index(
            "tasks_ready",
            text("priority DESC"),
            "ready_at",
            "id",
            "run_at",
            "graph",
            postgresql_where=text("state = 'queued'"),
        ),
        # The reaper's scan of leased tasks. Deliberately not on lease_expires_at: the heartbeat
        # rewrites that column every few seconds and must stay a HOT update.
        Index("tasks_running", "id", postgresql_where=text("state = 'running'")),
        Index("tasks_paused", "id", postgresql_where=text("state = 'paused'")),
        # The fair claim (lease_claim_fair): queued tasks by group (tenant, agent), then in
        # claim order; and an agent's running tasks, counted against its cap.
        Index(
            "tasks_queued_group",
            "tenant",
            text("(coalesce(agent, ''))"),
            text("priority DESC"),
            "ready_at",
            "id",
            "run_at",
            "graph",
            postgresql_where=text("state = 'queued'"),
        ),
        Index(
            "tasks_running_group",
            "tenant",
            text("(coalesce(agent, ''))"),
            postgresql_where=text("state = 'running'"),
        ),
        Index(
            "tasks_idempotency_key",
            "tenant",
            "idempotency_key",
            unique=True,
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
        Index("tasks_created", "tenant", "created_at", "id"),
        Index("tasks_state_created", "tenant", "state", "created_at", "id"),
        Index("tasks_agent", "tenant", "agent", postgresql_where=text("agent IS NOT NULL")),
        Index(
            "tasks_agent_created",
            "tenant",
            "agent",
            "created_at",
            "id",
            postgresql_where=text("agent IS NOT NULL"),
        ),
        Index("tasks_replays", "replay_of", postgresql_where=text("replay_of IS NOT NULL")),
        # A named thread's tasks in submit order (the claim's "nothing before me on the thread").
        Index(
            "tasks_thread",
            "thread_id",
            "created_at",
            "id",
            postgresql_where=text("thread_id IS NOT NULL"),
        ),
        # At most one running task per thread: the constraint behind the claim's check.
        Index(
            "tasks_thread_running",
            "thread_id",
            unique=True,
            postgresql_where=text("thread_id IS NOT NULL AND state = 'running'"),
        ),
    )


class Thread(Base):
    """A tenant's thread (migration 0027, ADR 0018): the LangGraph Platform API's thread."""

    __tablename__ = "threads"

    tenant: Mapped[str] = mapped_column(Text)
    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, server_default=text("'{}'::jsonb")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=NOW)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=NOW)

    __table_args__ = (Index("threads_tenant_created", "tenant", "created_at", "id"),)


class TaskEvent(Base):
    __tablename__ = "task_events"

    tenant: Mapped[str] = mapped_column(Text)

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    # No foreign key, on purpose (migration 0004, ADR 0006): an event is written by the statement
    # that changes its task, and pruning deletes a task's events with it.
    task_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=NOW)
    kind: Mapped[str] = mapped_column(Text)
    from_state: Mapped[str | None] = mapped_column(Text)
    to_state: Mapped[str | None] = mapped_column(Text)
    lease_epoch: Mapped[int | None] = mapped_column(BigInteger)
    worker_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    attempt: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))

    __table_args__ = (Index("task_events_task", "task_id", "id"),)


class DeadLetter(Base):
    __tablename__ = "dead_letters"

    tenant: Mapped[str] = mapped_column(Text)

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )
    task_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tasks.id", ondelete="CASCADE")
    )
    graph: Mapped[str] = mapped_column(Text)
    error_type: Mapped[str] = mapped_column(Text)
    error_message: Mapped[str] = mapped_column(Text)
    traceback: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    attempt_history: Mapped[list[Any]] = mapped_column(JSONB)
    last_checkpoint_id: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=NOW)
    redriven_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    redrive_mode: Mapped[str | None] = mapped_column(Text)
    # Closed by an operator without a redrive (migration 0008); `resolution` is their note.
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolution: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint(
            "redrive_mode IS NULL OR redrive_mode IN ('last_checkpoint', 'scratch', 'checkpoint')",
            name="dead_letters_redrive_mode_valid",
        ),
        CheckConstraint(
            "(redriven_at IS NULL) = (redrive_mode IS NULL)", name="dead_letters_redrive_complete"
        ),
        CheckConstraint(
            "redriven_at IS NULL OR resolved_at IS NULL", name="dead_letters_closed_once"
        ),
        CheckConstraint(
            "resolution IS NULL OR resolved_at IS NOT NULL",
            name="dead_letters_resolution_when_resolved",
        ),
        # Exactly one open dead letter per task: a second insert for the same failure is refused.
        Index(
            "dead_letters_open_task",
            "task_id",
            unique=True,
            postgresql_where=text("redriven_at IS NULL"),
        ),
        Index("dead_letters_created", "tenant", "created_at", "id"),
        # Retention asks whether a task still has a kept dead letter; the cascade from tasks too.
        Index("dead_letters_task", "task_id"),
    )


class TaskWait(Base):
    """One interrupt of a task that waits on a person, and the one decision it gets."""

    __tablename__ = "task_waits"

    tenant: Mapped[str] = mapped_column(Text)

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )
    task_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tasks.id", ondelete="CASCADE")
    )
    interrupt_id: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    payload: Mapped[Any] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=NOW)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    on_timeout: Mapped[str] = mapped_column(Text)
    decision: Mapped[str | None] = mapped_column(Text)
    value: Mapped[Any | None] = mapped_column(JSONB)
    decided_by: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("kind IN ('approval', 'input')", name="task_waits_kind_valid"),
        CheckConstraint(
            "on_timeout IN ('fail', 'reject', 'default')", name="task_waits_on_timeout_valid"
        ),
        CheckConstraint(
            "decision IS NULL OR decision IN ('approved', 'rejected', 'answered', 'timed_out')",
            name="task_waits_decision_valid",
        ),
        CheckConstraint(
            "(decision IS NULL) = (decided_at IS NULL)", name="task_waits_decided_complete"
        ),
        UniqueConstraint("task_id", "interrupt_id", name="task_waits_one_per_interrupt"),
        Index(
            "task_waits_open",
            "tenant",
            "created_at",
            "id",
            postgresql_where=text("decided_at IS NULL"),
        ),
        Index("task_waits_open_expiry", "expires_at", postgresql_where=text("decided_at IS NULL")),
    )


class Worker(Base):
    __tablename__ = "workers"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    hostname: Mapped[str] = mapped_column(Text)
    pid: Mapped[int] = mapped_column(Integer)
    concurrency: Mapped[int] = mapped_column(Integer)
    # The graphs this process can run, announced at registration; it claims only these.
    graphs: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    state: Mapped[str] = mapped_column(Text, server_default=text("'running'"))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=NOW)
    last_heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=NOW)
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(
            "state IN ('running', 'stopping', 'stopped', 'lost')", name="workers_state_valid"
        ),
        CheckConstraint(
            "(state = 'stopped') = (stopped_at IS NOT NULL)", name="workers_stopped_iff_stopped_at"
        ),
        Index("workers_started", "started_at", "id"),
    )


class OutlastTestClock(Base):
    """Its one row marks a test database: only there does outlast_now() honour the session
    setting `outlast.now`. Migrations leave it empty; the test template inserts the row."""

    __tablename__ = "outlast_test_clock"

    enabled: Mapped[bool] = mapped_column(Boolean, primary_key=True, server_default=text("true"))

    __table_args__ = (CheckConstraint("enabled", name="outlast_test_clock_one_row"),)


class CheckpointOrder(Base):
    """The order of a thread's checkpoints (LangGraph's tables are not modelled here): one row per
    checkpoint, written with it under the lease fence; the highest `seq` is the thread's head.
    Checkpoint ids are uuid6 from a worker's wall clock and must not decide it (ADR 0007)."""

    __tablename__ = "checkpoint_order"

    tenant: Mapped[str] = mapped_column(Text)

    thread_id: Mapped[str] = mapped_column(Text, primary_key=True)
    checkpoint_ns: Mapped[str] = mapped_column(Text, primary_key=True)
    checkpoint_id: Mapped[str] = mapped_column(Text, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=True))
    lease_epoch: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("checkpoint_order_head", "thread_id", "checkpoint_ns", "seq"),)


class TranscriptMessage(Base):
    """One element of a stored message list (db/queries/transcripts.sql, ADR 0012): a node of a
    chain keyed by (tenant, digest), the digest covering its parent's digest, its encoding and
    its bytes, so a list that extends a stored one adds only its new elements."""

    __tablename__ = "transcript_messages"

    tenant: Mapped[str] = mapped_column(Text, primary_key=True)
    digest: Mapped[bytes] = mapped_column(BYTEA, primary_key=True)
    parent: Mapped[bytes | None] = mapped_column(BYTEA)
    position: Mapped[int] = mapped_column(Integer)
    encoding: Mapped[str] = mapped_column(Text)
    content: Mapped[bytes] = mapped_column(BYTEA)
    # The task that stored it, whose retention takes it; NULL once another task stores or may
    # read it (migration 0030, ADR 0023).
    owner: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))

    __table_args__ = (
        CheckConstraint("octet_length(digest) = 32", name="transcript_messages_digest_sha256"),
        CheckConstraint("(parent IS NULL) = (position = 0)", name="transcript_messages_chained"),
        Index("transcript_messages_owner", "owner", postgresql_where=text("owner IS NOT NULL")),
    )


# The scopes a key may carry (api/access.py); `admin` holds every other one.
KEY_SCOPES = (
    "tasks:write",
    "tasks:read",
    "approvals:decide",
    "dead-letters:operate",
    "agents:admin",
    "metrics:read",
    "admin",
)
KEY_SCOPES_SQL = ", ".join(f"'{s}'" for s in KEY_SCOPES)


class ApiKey(Base):
    """One API key: its public id, tenant, scopes and the SHA-256 of its secret (never the
    secret). Revoked keys are kept (decisions and logs name them)."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    tenant: Mapped[str] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(Text)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text))
    secret_sha256: Mapped[bytes] = mapped_column(BYTEA)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=NOW)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("id ~ '^[0-9a-f]{12}$'", name="api_keys_id_format"),
        CheckConstraint("tenant ~ '^[a-z0-9][a-z0-9_-]{0,62}$'", name="api_keys_tenant_format"),
        CheckConstraint("octet_length(secret_sha256) = 32", name="api_keys_hash_length"),
        CheckConstraint(
            f"cardinality(scopes) > 0 AND scopes <@ ARRAY[{KEY_SCOPES_SQL}]::text[]",
            name="api_keys_scopes_known",
        ),
        Index("api_keys_tenant_created", "tenant", "created_at", "id"),
    )


class LlmCall(Base):
    """One model call of a task, journaled under the lease fence (db/queries/llm_call.sql):
    started before the request goes out, then completed (response, usage, cost) or failed; a
    started row a later lease finds was in flight at a crash and becomes `interrupted`."""

    __tablename__ = "llm_calls"

    tenant: Mapped[str] = mapped_column(Text)

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    task_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tasks.id", ondelete="CASCADE")
    )
    step_key: Mapped[str] = mapped_column(Text)
    seq: Mapped[int] = mapped_column(Integer)
    lease_epoch: Mapped[int] = mapped_column(BigInteger)
    request_digest: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default=text("'started'"))
    request: Mapped[Any] = mapped_column(JSONB)
    response: Mapped[Any | None] = mapped_column(JSONB)
    error: Mapped[str | None] = mapped_column(Text)
    provider: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(Text)
    input_tokens: Mapped[int | None] = mapped_column(BigInteger)
    output_tokens: Mapped[int | None] = mapped_column(BigInteger)
    cache_read_tokens: Mapped[int | None] = mapped_column(BigInteger)
    cache_write_tokens: Mapped[int | None] = mapped_column(BigInteger)
    cost_micro_usd: Mapped[int | None] = mapped_column(BigInteger)
    price: Mapped[Any | None] = mapped_column(JSONB)
    price_source: Mapped[str | None] = mapped_column(Text)
    latency_ms: Mapped[int | None] = mapped_column(BigInteger)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=NOW)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The original task's call whose response a replay reused (migration 0020).
    replay_of_call: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        CheckConstraint(
            "status IN ('started', 'completed', 'failed', 'interrupted')",
            name="llm_calls_status_valid",
        ),
        CheckConstraint("seq >= 0", name="llm_calls_seq_valid"),
        Index("llm_calls_key", "task_id", "step_key", "seq", "id"),
        Index("llm_calls_finished", "tenant", "finished_at"),
    )


class LlmDelta(Base):
    """A piece of a running model call's streamed text (db/queries/llm_delta.sql). UNLOGGED and
    pruned after OUTLAST_TOKEN_RETENTION_S: a live view for the task stream, not a record; the
    journal (llm_calls) is the record (ADR 0022)."""

    __tablename__ = "llm_deltas"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    tenant: Mapped[str] = mapped_column(Text)
    task_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    call_id: Mapped[int] = mapped_column(BigInteger)
    attempt: Mapped[int] = mapped_column(Integer)
    # Before `text`, which names a column below and hides sqlalchemy's text() after it.
    after_seq: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=NOW)

    __table_args__ = (
        Index("llm_deltas_task", "task_id", "id"),
        Index("llm_deltas_at", "at"),
        {"prefixes": ["UNLOGGED"]},
    )


class StreamChunk(Base):
    """A chunk a run's node wrote to LangGraph's stream writer (db/queries/stream_chunk.sql), for
    the LangGraph API's `custom` stream mode; fenced and durable (ADR 0027)."""

    __tablename__ = "stream_chunks"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    tenant: Mapped[str] = mapped_column(Text)
    task_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tasks.id", ondelete="CASCADE")
    )
    lease_epoch: Mapped[int] = mapped_column(BigInteger)
    after_seq: Mapped[int] = mapped_column(BigInteger)
    namespace: Mapped[str] = mapped_column(Text)
    data: Mapped[Any] = mapped_column(JSONB)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=NOW)

    __table_args__ = (Index("stream_chunks_task", "task_id", "id"),)


class Agent(Base):
    """An agent of a tenant: its current version, and whether it is disabled. Its specs are
    agent_versions rows (db/queries/agent.sql)."""

    __tablename__ = "agents"

    tenant: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=NOW)

    __table_args__ = (
        CheckConstraint("name ~ '^[a-z0-9][a-z0-9-]{0,62}$'", name="agents_name_slug"),
        CheckConstraint("version >= 1", name="agents_version_positive"),
    )


class AgentVersion(Base):
    """One immutable version of an agent's spec, and the key that wrote it."""

    __tablename__ = "agent_versions"

    tenant: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    spec: Mapped[Any] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=NOW)
    created_by: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant", "name"], ["agents.tenant", "agents.name"], ondelete="CASCADE"
        ),
        CheckConstraint("jsonb_typeof(spec) = 'object'", name="agent_versions_spec_object"),
    )


class ToolCall(Base):
    """One tool call of a task in the two-phase ledger (db/queries/tool_call.sql): an intent
    row committed under the lease fence before the tool runs, its outcome after. A `started`
    row a later lease finds becomes `interrupted` (outcome unknown). docs/adr/0014."""

    __tablename__ = "tool_calls"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    tenant: Mapped[str] = mapped_column(Text)
    task_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tasks.id", ondelete="CASCADE")
    )
    step_key: Mapped[str] = mapped_column(Text)
    seq: Mapped[int] = mapped_column(Integer)
    lease_epoch: Mapped[int] = mapped_column(BigInteger)
    tool: Mapped[str] = mapped_column(Text)
    idempotent: Mapped[bool] = mapped_column(Boolean)
    idempotency_key: Mapped[str] = mapped_column(Text)
    arguments_digest: Mapped[str] = mapped_column(Text)
    arguments: Mapped[Any] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(Text, server_default=text("'started'"))
    decision: Mapped[str | None] = mapped_column(Text)
    result: Mapped[Any | None] = mapped_column(JSONB)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=NOW)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The original task's call whose outcome a replay reused (migration 0030).
    replay_of_call: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        CheckConstraint(
            "status IN ('started', 'completed', 'failed', 'skipped', 'interrupted')",
            name="tool_calls_status_valid",
        ),
        CheckConstraint(
            "decision IS NULL OR decision IN ('retry', 'skip', 'done')",
            name="tool_calls_decision_valid",
        ),
        CheckConstraint("seq >= 0", name="tool_calls_seq_valid"),
        Index("tool_calls_key", "task_id", "step_key", "seq", "id"),
    )


class Artifact(Base):
    """A text artifact a task's tool created (`create_text_artifact`), one per (task, name)."""

    __tablename__ = "artifacts"

    task_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(Text, primary_key=True)
    tenant: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(Text)
    content: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int] = mapped_column(Integer)
    idempotency_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=NOW)

    __table_args__ = (
        CheckConstraint("name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$'", name="artifacts_name_valid"),
    )


class ToolServer(Base):
    """A tenant's MCP server: URL, bearer token (never returned by the API), the tools last
    discovered on it and its health."""

    __tablename__ = "tool_servers"

    tenant: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text, primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    token: Mapped[str | None] = mapped_column(Text)
    tools: Mapped[Any] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    health: Mapped[str] = mapped_column(Text, server_default=text("'unknown'"))
    health_error: Mapped[str | None] = mapped_column(Text)
    checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=NOW)
    created_by: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'", name="tool_servers_name_slug"),
        CheckConstraint("health IN ('unknown', 'ok', 'error')", name="tool_servers_health_valid"),
    )


class TenantBudget(Base):
    """A tenant's daily money limit (micro-USD), set over PUT /v1/budgets."""

    __tablename__ = "tenant_budgets"

    tenant: Mapped[str] = mapped_column(Text, primary_key=True)
    per_day_micro_usd: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=NOW)
    updated_by: Mapped[str] = mapped_column(Text)

    __table_args__ = (CheckConstraint("per_day_micro_usd >= 0", name="tenant_budgets_day_valid"),)


class BudgetWindow(Base):
    """Spend and reservations of one budget in one window (db/queries/budget.sql)."""

    __tablename__ = "budget_windows"

    tenant: Mapped[str] = mapped_column(Text, primary_key=True)
    scope: Mapped[str] = mapped_column(Text, primary_key=True)
    subject: Mapped[str] = mapped_column(Text, primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    spent_micro_usd: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    reserved_micro_usd: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))

    __table_args__ = (
        CheckConstraint(
            "scope IN ('task', 'agent_hour', 'tenant_day')", name="budget_windows_scope_valid"
        ),
        CheckConstraint(
            "spent_micro_usd >= 0 AND reserved_micro_usd >= 0", name="budget_windows_nonnegative"
        ),
    )


class BudgetSpend(Base):
    """A charge on an agent's rolling hour, stamped with when it was charged: the hour's spend
    is the sum of those of the last 3600 s (outlast_budget_spent, migration 0030)."""

    __tablename__ = "budget_spend"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    tenant: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    charged_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    amount_micro_usd: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        CheckConstraint("amount_micro_usd > 0", name="budget_spend_amount_valid"),
        Index("budget_spend_window", "tenant", "scope", "subject", "charged_at"),
    )


class BudgetReservation(Base):
    """A model call's worst-case cost, held on its windows until it is settled or expired."""

    __tablename__ = "budget_reservations"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    tenant: Mapped[str] = mapped_column(Text)
    task_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    lease_epoch: Mapped[int] = mapped_column(BigInteger)
    amount_micro_usd: Mapped[int] = mapped_column(BigInteger)
    windows: Mapped[Any] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=NOW)

    __table_args__ = (
        CheckConstraint("amount_micro_usd >= 0", name="budget_reservations_amount_valid"),
        Index("budget_reservations_task", "task_id", "lease_epoch"),
    )


class Schedule(Base):
    """A tenant's cron schedule: what each slot submits and the first slot not fired yet."""

    __tablename__ = "schedules"

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )
    tenant: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    cron: Mapped[str] = mapped_column(Text)
    timezone: Mapped[str] = mapped_column(Text)
    catch_up: Mapped[str] = mapped_column(Text)
    graph: Mapped[str] = mapped_column(Text)
    agent: Mapped[str | None] = mapped_column(Text)
    agent_version: Mapped[int | None] = mapped_column(Integer)
    input: Mapped[Any] = mapped_column(JSONB)
    max_attempts: Mapped[int] = mapped_column(Integer)
    next_run_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    paused_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=NOW)
    created_by: Mapped[str] = mapped_column(Text)
    # A LangGraph cron's (migration 0035, ADR 0029): the thread its tasks go on (NULL: each its
    # own), their metadata, the cron body as given (NULL on /v1), the last slot's bound.
    thread_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("threads.id", ondelete="CASCADE")
    )
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, server_default=text("'{}'::jsonb")
    )
    payload: Mapped[Any | None] = mapped_column(JSONB)
    end_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=NOW)

    __table_args__ = (
        UniqueConstraint("tenant", "name", name="schedules_tenant_name"),
        CheckConstraint("name ~ '^[a-z0-9][a-z0-9-]{0,62}$'", name="schedules_name_slug"),
        CheckConstraint("catch_up IN ('latest', 'all', 'none')", name="schedules_catch_up_valid"),
        Index("schedules_due", "next_run_at", postgresql_where=text("paused_at IS NULL")),
    )


class ScheduleSlot(Base):
    """A fired slot: the unique key that makes a slot fire once, and the task it submitted."""

    __tablename__ = "schedule_slots"

    schedule_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("schedules.id", ondelete="CASCADE"), primary_key=True
    )
    slot_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    tenant: Mapped[str] = mapped_column(Text)
    task_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    fired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=NOW)


class StoreItem(Base):
    """An item of a tenant's LangGraph store (migration 0035, ADR 0029): a JSON value under a
    namespace path and a key, with an optional expiry."""

    __tablename__ = "store_items"

    tenant: Mapped[str] = mapped_column(Text, primary_key=True)
    namespace: Mapped[list[str]] = mapped_column(ARRAY(Text), primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[Any] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=NOW)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=NOW)
    ttl_minutes: Mapped[float | None] = mapped_column(Float)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("cardinality(namespace) >= 1", name="store_items_namespace_nonempty"),
    )


class Webhook(Base):
    """A tenant's completion webhook: where to POST which task events, signed with its secret,
    and how far the reaper's dispatcher has read task_events for it (ADR 0020)."""

    __tablename__ = "webhooks"

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )
    tenant: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[str]] = mapped_column(ARRAY(Text))
    secret: Mapped[str] = mapped_column(Text)
    allow_private: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    event_cursor: Mapped[int] = mapped_column(BigInteger)
    paused_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=NOW)
    created_by: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("tenant", "name", name="webhooks_tenant_name"),
        CheckConstraint("name ~ '^[a-z0-9][a-z0-9-]{0,62}$'", name="webhooks_name_slug"),
        CheckConstraint(
            "cardinality(events) > 0 AND events <@ ARRAY['task.completed', 'task.failed',"
            " 'task.waiting', 'task.budget_paused']::text[]",
            name="webhooks_events_valid",
        ),
    )


class WebhookDelivery(Base):
    """One delivery per (webhook, event): the key that makes an event go out once per webhook,
    and the delivery task that sends it."""

    __tablename__ = "webhook_deliveries"

    webhook_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("webhooks.id", ondelete="CASCADE"), primary_key=True
    )
    event_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant: Mapped[str] = mapped_column(Text)
    task_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    event_type: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=NOW)

    __table_args__ = (
        UniqueConstraint("task_id", name="webhook_deliveries_task"),
        Index("webhook_deliveries_created", "created_at"),
    )


class RateLimit(Base):
    """A tenant's provider rate limits per (provider, model), set over PUT /v1/rate-limits."""

    __tablename__ = "rate_limits"

    tenant: Mapped[str] = mapped_column(Text, primary_key=True)
    provider: Mapped[str] = mapped_column(Text, primary_key=True)
    model: Mapped[str] = mapped_column(Text, primary_key=True)
    tokens_per_minute: Mapped[int | None] = mapped_column(BigInteger)
    requests_per_minute: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=NOW)
    updated_by: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint(
            "tokens_per_minute > 0 AND requests_per_minute > 0", name="rate_limits_positive"
        ),
    )


class RateBucket(Base):
    """The live token bucket of one provider key (by fingerprint, never the key) and model
    (db/queries/rate_limit.sql)."""

    __tablename__ = "rate_buckets"

    tenant: Mapped[str] = mapped_column(Text, primary_key=True)
    provider: Mapped[str] = mapped_column(Text, primary_key=True)
    model: Mapped[str] = mapped_column(Text, primary_key=True)
    key_fingerprint: Mapped[str] = mapped_column(Text, primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    requests: Mapped[float] = mapped_column(Float)
    refilled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    blocked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    in_flight: Mapped[list[datetime]] = mapped_column(
        ARRAY(DateTime(timezone=True)), server_default="{}"
    )
