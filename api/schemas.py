"""The API's request and response bodies (FastAPI full-stack template naming: `XCreate` in,
`XPublic` out).

Request bodies forbid unknown fields and take numbers strictly (`"5"` and `true` are not
integers; `5.0` is, as JSON Schema says), so a typo or a wrong type is a 422 naming the field
rather than a silent default.
Response bodies are built from database rows and ignore columns they do not list: the stored
`request_hash` and the lease epoch stay internal.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from api import json_guard
from db.states import TaskState
from db.tasks import NewTask
from outlast import traces
from outlast.catalogue import TOOLS
from outlast.errors import ModelConfigError
from outlast.models.provider import PROVIDERS, ModelRef

T = TypeVar("T")
JsonObject = dict[str, Any]
# Free JSON a request brings into a task's state or the database: the schema shows the body
# guard's rules (api.json_guard.JSON_VALUE) that JSON Schema can express.
JsonInput = Annotated[dict[str, Any], WithJsonSchema(json_guard.JSON_OBJECT, mode="validation")]
AnyJsonInput = Annotated[Any, WithJsonSchema({"allOf": [json_guard.JSON_REF]}, mode="validation")]
THIRTY_DAYS_S = 30 * 24 * 3600
# Free text that reaches a Postgres `text` column: bounded, and no control characters
# (Postgres refuses NUL outright).
LABEL_PATTERN = r"^[^\x00-\x1f\x7f]+$"
Label = Annotated[str, Field(min_length=1, max_length=255, pattern=LABEL_PATTERN)]


def _whole(value: Any) -> Any:
    # JSON Schema (and so the OpenAPI document) calls 5.0 an integer; a string or bool is not.
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _date_time_text(value: Any) -> Any:
    # JSON Schema's date-time is a string; pydantic alone would also take a number (epoch
    # seconds), which the document does not offer.
    if isinstance(value, int | float):
        raise PydanticCustomError("datetime_type", "Input should be a date-time string")
    return value


# After the bounds (Annotated[StrictInt, Field(...), WHOLE]): placed before them, it would hide
# minimum and maximum from the JSON Schema.
WHOLE = BeforeValidator(_whole)
MaxAttempts = Annotated[StrictInt, Field(ge=1, le=1000), WHOLE]
WaitOutcome = Literal["fail", "reject", "default"]
LongText = Annotated[str, Field(min_length=1, max_length=2000, pattern=r"^[^\x00]+$")]


# The default of a field that may be left out but not sent as null (validate_default is off),
# and of a field a list leaves out (lists serve exclude_unset, so it is never sent).
_OMITTED: Any = None


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Page(BaseModel, Generic[T]):
    """One page of a list. Pass `next_cursor` back as `?cursor=` for the next; null: the end."""

    items: list[T]
    next_cursor: str | None = None


class TaskCreate(_Request):
    """Exactly one of `graph` and `agent` (null is not a value here: leave the other out)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"oneOf": [{"required": ["graph"]}, {"required": ["agent"]}]},
    )
    # Typed without None so that the schema offers no null; left out, the value is None.
    graph: Label = Field(_OMITTED, description="A registered graph (GET /v1/graphs).")
    agent: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")] = Field(
        _OMITTED,
        description="An agent of your tenant (GET /v1/agents): the task pins its current "
        "version and runs the agent's graph, or the built-in agent graph.",
    )
    input: JsonInput = Field(default_factory=dict, description="The graph's input state.")
    priority: Annotated[StrictInt, Field(ge=-100, le=100), WHOLE] = Field(
        0, description="Higher runs first."
    )
    run_at: Annotated[AwareDatetime, BeforeValidator(_date_time_text)] | None = Field(
        None, description="Not before this time (with offset)."
    )
    max_attempts: MaxAttempts | None = Field(
        None, description="Attempts before dead-lettering; default OUTLAST_DEFAULT_MAX_ATTEMPTS."
    )
    timeout_s: Annotated[StrictInt, Field(ge=1, le=THIRTY_DAYS_S), WHOLE] | None = Field(
        None, description="Longest one attempt may run."
    )
    metadata: JsonInput = Field(
        default_factory=dict,
        description="Yours; stored, not read, but for `traceparent` (a W3C trace context the"
        " task's attempts join; the API adds its request's when tracing).",
    )
    wait_timeout_s: Annotated[StrictInt, Field(ge=1, le=THIRTY_DAYS_S), WHOLE] | None = Field(
        None, description="Longest a human wait may last (default OUTLAST_WAIT_TIMEOUT_S)."
    )
    on_wait_timeout: WaitOutcome | None = Field(
        None,
        description="What a wait that times out does, unless its interrupt says: "
        "fail (dead-letter the task, the default), reject (an approval), default (an input).",
    )

    thread_id: uuid.UUID | None = Field(
        None,
        description="A thread of yours (POST /threads) to run on, after the tasks submitted on it "
        "before (ADR 0018); left out, the task has a thread of its own. Not in a batch.",
    )

    def to_new_task(
        self,
        default_max_attempts: int,
        *,
        graph: str | None = None,
        agent_version: int | None = None,
    ) -> NewTask:
        """The queue's submit record for this request; `graph` and `agent_version` are what the
        agent resolved to (api/targets.py) for a task submitted to an agent."""
        return NewTask(
            graph=graph or self.graph or "",
            agent=self.agent,
            agent_version=agent_version,
            input=self.input,
            # With the request's trace context when traced: the task's attempts join its trace.
            metadata=traces.with_traceparent(self.metadata),
            priority=self.priority,
            run_at=self.run_at,
            max_attempts=self.max_attempts or default_max_attempts,
            timeout_s=self.timeout_s,
            wait_timeout_s=self.wait_timeout_s,
            on_wait_timeout=self.on_wait_timeout,
            thread_id=self.thread_id,
        )

    @field_validator("run_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        # One spelling per instant, so an idempotent replay with another offset still matches.
        try:
            return value.astimezone(UTC) if value else None
        except OverflowError as exc:
            raise ValueError("run_at is out of range") from exc


class TaskPublic(BaseModel):
    id: uuid.UUID
    state: TaskState
    graph: str
    agent: str | None = Field(None, description="The agent it was submitted to, if any.")
    agent_version: int | None = Field(None, description="The agent version it pinned.")
    replay_of: uuid.UUID | None = Field(
        None, description="The task this one replays (POST /v1/tasks/{id}/replay)."
    )
    replay_from_call: int | None = Field(
        None, description="A replay's N: calls before the N-th reuse the original's answers."
    )
    input: JsonObject
    metadata: JsonObject
    priority: int
    run_at: datetime
    ready_at: datetime = Field(
        description="Its place in the claim order once run_at has come: when it became ready. "
        "A retry or a reaped lease moves run_at (backoff) and keeps ready_at."
    )
    attempts: int
    max_attempts: int
    timeout_s: int | None
    worker_id: uuid.UUID | None = Field(description="The current lease holder, or null.")
    lease_expires_at: datetime | None
    cancel_requested: bool
    wait_timeout_s: int | None
    on_wait_timeout: WaitOutcome | None
    idempotency_key: str | None
    result: Any | None
    error: JsonObject | None
    pause: JsonObject | None = Field(
        None,
        description="Why a `paused` task is paused: reason `budget`, the window that refused "
        "its next model call, its limit, the spend then and what the call needed.",
    )
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime
    thread_id: uuid.UUID | None = Field(
        None,
        description="Its thread (ADR 0018): the one it was submitted on, or its own (the task id).",
    )

    @model_validator(mode="after")
    def _own_thread(self) -> TaskPublic:
        if self.thread_id is None:
            self.thread_id = self.id  # a task that named no thread is on its own
        return self


class TaskSummary(TaskPublic):
    """A task in a list: `input`, `metadata` and `result` (user-sized) are left out unless
    asked for with `?include=input,metadata,result`."""

    input: JsonObject = Field(_OMITTED, description="Only with ?include=input.")
    metadata: JsonObject = Field(_OMITTED, description="Only with ?include=metadata.")
    result: Any = Field(_OMITTED, description="Only with ?include=result.")
    cost_micro_usd: int = Field(
        0, description="What the task's model calls have cost so far (micro-USD)."
    )


class ModelCallPublic(BaseModel):
    """One journaled model call of a task (docs/howto/agents-and-models.md, "Journal")."""

    id: int
    step_key: str
    seq: int
    lease_epoch: int
    request_digest: str
    status: str = Field(
        description="started, completed, failed or interrupted (in flight at a crash)."
    )
    response: Any = None
    error: str | None
    provider: str | None
    model: str | None
    input_tokens: int | None
    output_tokens: int | None
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    cost_micro_usd: int | None = Field(description="Cost in millionths of a US dollar.")
    price: Any = None
    price_source: str | None
    latency_ms: int | None
    started_at: datetime
    finished_at: datetime | None


class StepUsage(BaseModel):
    """One step's model calls summed (a step is a node run: its journal step key)."""

    step_key: str
    first_call_id: int
    calls: int
    reused: int = Field(description="Calls a replay took from the original task (cost 0).")
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_micro_usd: int


class ModelUsage(BaseModel):
    """A task's model calls summed: tokens and cost (micro-USD), and per step."""

    calls: int
    completed: int
    failed: int
    in_flight_at_crash: int = Field(
        description="Calls a crash cut off (they may have been billed)."
    )
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_micro_usd: int
    unpriced: int = Field(description="Completed calls whose model has no known price.")
    steps: list[StepUsage] = Field(
        default_factory=list, description="The same sums per step, in the order steps began."
    )


class TaskEventPublic(BaseModel):
    id: int
    task_id: uuid.UUID
    at: datetime
    kind: str
    from_state: str | None
    to_state: str | None
    lease_epoch: int | None
    worker_id: uuid.UUID | None
    attempt: int | None
    detail: JsonObject


class CheckpointPublic(BaseModel):
    checkpoint_id: str
    parent_checkpoint_id: str | None
    ts: str | None
    source: str | None
    step: int | None
    metadata: JsonObject


class CancelRequest(_Request):
    reason: Annotated[str, Field(max_length=1000, pattern=r"^[^\x00]*$")] | None = None


class DeadLetterPublic(BaseModel):
    id: uuid.UUID
    task_id: uuid.UUID
    graph: str
    error_type: str
    error_message: str
    traceback: str | None
    attempts: int
    attempt_history: list[Any]
    last_checkpoint_id: str | None
    created_at: datetime
    redriven_at: datetime | None
    redrive_mode: str | None
    resolved_at: datetime | None = Field(
        description="Closed by an operator without a redrive (POST .../resolve)."
    )
    resolution: str | None = Field(description="The note given with the resolve.")


class DeadLetterSummary(DeadLetterPublic):
    """A dead letter in a list: `traceback` and `attempt_history` are left out unless asked for
    with `?include=traceback,attempt_history`."""

    traceback: str | None = Field(_OMITTED, description="Only with ?include=traceback.")
    attempt_history: list[Any] = Field(_OMITTED, description="Only with ?include=attempt_history.")


class DeadLetterGroup(BaseModel):
    graph: str
    error_type: str
    count: int
    first_at: datetime
    last_at: datetime


class RedriveRequest(_Request):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [
                {
                    "properties": {"mode": {"const": "checkpoint"}},
                    "required": ["mode", "checkpoint_id"],
                },
                {
                    "properties": {
                        "mode": {"enum": ["last_checkpoint", "scratch"]},
                        "checkpoint_id": {"type": "null"},
                    }
                },
            ]
        },
    )
    mode: Literal["last_checkpoint", "scratch", "checkpoint"] = Field(
        "last_checkpoint", description="From the last checkpoint, the input, or checkpoint_id."
    )
    checkpoint_id: Label | None = Field(
        None, validate_default=True, description="Required with mode=checkpoint, else absent."
    )
    max_attempts: MaxAttempts | None = Field(None, description="Unset: keep the task's own.")

    @field_validator("checkpoint_id")
    @classmethod
    def _needs_mode(cls, value: str | None, info: ValidationInfo) -> str | None:
        mode = info.data.get("mode")
        if mode == "checkpoint" and value is None:
            raise ValueError("checkpoint_id is required when mode is 'checkpoint'")
        if mode != "checkpoint" and value is not None:
            raise ValueError("checkpoint_id is allowed only when mode is 'checkpoint'")
        return value


class ResolveRequest(_Request):
    note: LongText | None = Field(
        None, description="Why it needs no redrive; kept on the dead letter."
    )


class RedriveByFilterRequest(_Request):
    graph: Label | None = None
    error_type: Label | None = None
    mode: Literal["last_checkpoint", "scratch"] = "last_checkpoint"
    limit: Annotated[StrictInt, Field(ge=1, le=1000), WHOLE] = Field(
        100, description="Most dead letters redriven by this call."
    )
    dry_run: StrictBool = Field(False, description="List what would be redriven; change nothing.")
    max_attempts: MaxAttempts | None = None


class RedriveByFilterResult(BaseModel):
    dry_run: bool
    count: int
    tasks: list[TaskPublic] | None = Field(description="The requeued tasks (null on a dry run).")
    dead_letters: list[DeadLetterPublic] | None = Field(
        description="What a real run would redrive (null unless dry run)."
    )


class WaitPublic(BaseModel):
    """One interrupt a task waits on (or waited on), and its decision."""

    id: uuid.UUID
    task_id: uuid.UUID
    interrupt_id: str
    kind: Literal["approval", "input"]
    payload: Any = Field(description="What the graph asked: action and args, or a question.")
    created_at: datetime
    expires_at: datetime
    on_timeout: WaitOutcome
    decision: Literal["approved", "rejected", "answered", "timed_out"] | None
    value: Any | None = Field(description="The resume value the graph receives.")
    decided_by: str | None
    comment: str | None
    decided_at: datetime | None


class ApprovalPublic(WaitPublic):
    """An inbox entry: an open wait and the task it holds."""

    graph: str
    task_state: TaskState
    task_metadata: JsonObject


class _Decision(_Request):
    wait_id: uuid.UUID | None = Field(
        None, description="Which wait, when the task has several open of this kind."
    )
    # Who decides is the API key (its name and id), never the body: a body that names someone
    # is refused, so a client that still sends it learns that, instead of being ignored.
    decided_by: SkipJsonSchema[Any] = None

    @field_validator("decided_by")
    @classmethod
    def _refuse_decided_by(cls, value: Any) -> Any:
        raise ValueError(
            "the decider is the API key (its name and id); remove decided_by from the body"
        )


class ApproveRequest(_Decision):
    edited_args: JsonInput | None = Field(
        None, description="Arguments to act with instead of the proposed ones."
    )
    comment: LongText | None = None


class RejectRequest(_Decision):
    reason: LongText = Field(description="Why; the graph receives it.")


class InputRequest(_Decision):
    value: AnyJsonInput = Field(
        description="The answer; checked against the question's JSON Schema."
    )


class DecisionResult(BaseModel):
    task: TaskPublic
    wait: WaitPublic


class MessageRequest(_Request):
    """A follow-up: `message` (a user message for chat graphs) or `input` (any graph input),
    exactly one of the two (null is not a value here: leave the other out)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"oneOf": [{"required": ["message"]}, {"required": ["input"]}]},
    )
    message: LongText = Field(_OMITTED)
    input: JsonInput = Field(_OMITTED)


class ForkRequest(_Request):
    checkpoint_id: Label = Field(description="A checkpoint of this task (GET .../checkpoints).")
    state_patch: JsonInput | None = Field(
        None, description="State values to set before resuming (applied as a graph update)."
    )


class CheckpointState(CheckpointPublic):
    """The graph's state at one checkpoint, and what was pending there."""

    values: Any
    next: list[str] = Field(description="Nodes that would run next from here.")
    interrupts: list[Any] = Field(description="Interrupts pending at this checkpoint.")


class WorkerPublic(BaseModel):
    id: uuid.UUID
    hostname: str
    pid: int
    state: Literal["running", "stopping", "stopped", "lost"]
    concurrency: int
    graphs: list[str] = Field(description="The graphs it runs: it claims tasks of these only.")
    started_at: datetime
    last_heartbeat_at: datetime
    stopped_at: datetime | None
    running_tasks: int = Field(
        0, description="How many of your tenant's tasks it runs now (workers serve every tenant)."
    )


class GraphPublic(BaseModel):
    name: str
    kind: Literal["graph", "function"] | None = Field(
        None, description="A LangGraph graph, or a function task (no nodes, no checkpoints)."
    )
    import_path: str | None = Field(
        description="Where this API loads it from; null when only workers or queued tasks name it."
    )
    nodes: list[str]
    description: str | None
    error: str | None = Field(None, description="Why the graph cannot be loaded, if it cannot.")
    registered: bool = Field(
        True, description="Registered with this API process (so it accepts tasks of it)."
    )
    workers: int = Field(0, description="Running workers that announced they run it.")
    queued: int = Field(
        0, description="Its queued tasks. Queued with no worker: they wait for one that runs it."
    )


class FieldErrorPublic(BaseModel):
    field: str = Field(description="Where: body.input.x, query.limit, path.task_id, header.x.")
    rule: str = Field(description="Which rule it broke, e.g. missing, no_nul_character, int64.")
    message: str
    pointer: str | None = Field(
        None, description="For a body field: an RFC 6901 JSON Pointer into the body (/input/x)."
    )


class Problem(BaseModel):
    """An error (RFC 9457, served as application/problem+json). Branch on `type`."""

    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldErrorPublic] | None = None


class Status(BaseModel):
    status: str


Scope = Literal[
    "tasks:write",
    "tasks:read",
    "approvals:decide",
    "dead-letters:operate",
    "agents:admin",
    "metrics:read",
    "admin",
]
Tenant = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="A tenant id.")]


class KeyCreate(_Request):
    scopes: list[Scope] = Field(min_length=1, max_length=7, description="`admin` holds all.")
    name: Label | None = Field(
        None, description="Who holds the key; decisions made with it record this name."
    )
    tenant: Tenant | None = Field(
        None,
        description="Whose key; default: the caller's tenant. Another tenant needs an admin key"
        " of tenant `default`.",
    )


class KeyPublic(BaseModel):
    """An API key as listed: never its secret (the server does not have it)."""

    id: str = Field(description="Public id, `olk_<id>`: names the key in logs and decisions.")
    tenant: str
    name: str | None
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None = Field(
        description="Recorded at most once a minute per API replica."
    )

    @field_validator("id", mode="before")
    @classmethod
    def _display(cls, value: str) -> str:
        return value if value.startswith("olk_") else f"olk_{value}"


class KeyCreated(KeyPublic):
    key: str = Field(description="The whole key, `olk_<id>_<secret>`. Shown this once only.")


# Agents (api/routes/agents.py). A spec is stored as JSON (agent_versions.spec): AgentSpec's
# fields, all of them, so a version reads the same whatever defaults later releases choose.
AGENT_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
AgentName = Annotated[
    str,
    Field(
        pattern=AGENT_NAME_PATTERN,
        description="A slug: lowercase letters, digits and `-`, 1-63 characters.",
    ),
]
MAX_FALLBACKS = 10
MAX_SYSTEM_PROMPT = 32_000
MAX_BUDGET_MICRO_USD = 10**15
NUL_FREE = r"^[^\x00]*$"
_FALLBACK_PATTERN = (
    "^(" + "|".join(PROVIDERS) + r"):[^\s\x00-\x1f\x7f]([^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f])?$"
)


def _one_of(known: tuple[str, ...], rule: str, what: str) -> AfterValidator:
    def check(value: str) -> str:
        if value not in known:
            message = f"no {what} {{value!r}}; known: {', '.join(known)}"
            raise PydanticCustomError(rule, message, {"value": value})
        return value

    return AfterValidator(check)


def _model_ref(value: str) -> str:
    try:
        return str(ModelRef.parse(value))
    except ModelConfigError as exc:
        raise PydanticCustomError("model_ref", str(exc)) from None


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))  # a name given twice means it once


ProviderName = Annotated[
    str,
    _one_of(PROVIDERS, "known_provider", "provider"),
    WithJsonSchema({"type": "string", "enum": list(PROVIDERS)}),
]
# A tool on a registered tool server: `server.tool`, or `server.*` for all of its tools.
SERVER_TOOL_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}\.([A-Za-z0-9_-]{1,64}|\*)$"


def _tool_name(value: str) -> str:
    if value in TOOLS or re.match(SERVER_TOOL_PATTERN, value):
        return value
    message = f"no tool {{value!r}}; known: {', '.join(TOOLS)}, or server.tool, or server.*"
    raise PydanticCustomError("known_tool", message, {"value": value})


ToolName = Annotated[
    str,
    Field(max_length=128),
    AfterValidator(_tool_name),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "enum": list(TOOLS)},
                {"type": "string", "pattern": SERVER_TOOL_PATTERN},
            ]
        }
    ),
]
Fallback = Annotated[
    str, Field(max_length=255, pattern=_FALLBACK_PATTERN), AfterValidator(_model_ref)
]
Temperature = Annotated[float, Field(ge=0, le=2, strict=True, allow_inf_nan=False)]
MaxTokens = Annotated[StrictInt, Field(ge=1, le=200_000), WHOLE]
SystemPrompt = Annotated[str, Field(max_length=MAX_SYSTEM_PROMPT, pattern=NUL_FREE)]
Description = Annotated[str, Field(max_length=2000, pattern=NUL_FREE)]
MicroUsd = Annotated[StrictInt, Field(ge=0, le=MAX_BUDGET_MICRO_USD), WHOLE]
Tools = Annotated[list[ToolName], Field(max_length=len(TOOLS) * 4), AfterValidator(_unique)]
Fallbacks = Annotated[list[Fallback], Field(max_length=MAX_FALLBACKS)]


class AgentBudgets(_Request):
    """Spending limits in micro-USD (1 USD = 1,000,000): one task's calls over its life, and
    the agent's calls per UTC clock hour (docs/howto/budgets-and-limits.md)."""

    per_task_micro_usd: MicroUsd | None = None
    per_hour_micro_usd: MicroUsd | None = None


# An agent's weight in the fair claim (lease_claim_fair): 1 when not given.
Share = Annotated[StrictInt, Field(ge=1, le=1000), WHOLE]


class AgentSpec(_Request):
    """What an agent is: its model (and fallbacks), prompt, limits, tools and budgets."""

    provider: ProviderName = Field(description="anthropic, openai or offline.")
    model: Label = Field(description="The provider's model name.")
    fallbacks: Fallbacks = Field(
        default_factory=list, description="`provider:model`s tried in order after the model."
    )
    system_prompt: SystemPrompt = ""
    temperature: Temperature | None = Field(None, description="0-2; the provider's default.")
    max_tokens: MaxTokens | None = Field(None, description="Longest answer, in tokens.")
    allowed_tools: Tools = Field(
        default_factory=list, description=f"From the catalogue: {', '.join(TOOLS)}."
    )
    graph: Label | None = Field(
        None, description="A registered graph (GET /v1/graphs); default: the agent graph."
    )
    max_concurrent_tasks: Annotated[StrictInt, Field(ge=1, le=100_000), WHOLE] | None = None
    share: Share | None = Field(
        None, description="Weight in the fair claim (1-1000): claims go to agents in proportion."
    )
    budgets: AgentBudgets | None = None
    description: Description | None = None


class AgentCreate(AgentSpec):
    name: AgentName = Field(description="Unique in the tenant; names the agent in URLs.")


class AgentUpdate(_Request):
    """The fields to change; the others keep their values. null clears an optional field."""

    provider: ProviderName = _OMITTED
    model: Label = _OMITTED
    fallbacks: Fallbacks = _OMITTED
    system_prompt: SystemPrompt = _OMITTED
    temperature: Temperature | None = None
    max_tokens: MaxTokens | None = None
    allowed_tools: Tools = _OMITTED
    graph: Label | None = None
    max_concurrent_tasks: Annotated[StrictInt, Field(ge=1, le=100_000), WHOLE] | None = None
    share: Share | None = None
    budgets: AgentBudgets | None = None
    description: Description | None = None


class AgentBudgetsPublic(BaseModel):
    per_task_micro_usd: int | None = None
    per_hour_micro_usd: int | None = None


class AgentSpecPublic(BaseModel):
    provider: str
    model: str
    fallbacks: list[str]
    system_prompt: str
    temperature: float | None
    max_tokens: int | None
    allowed_tools: list[str]
    graph: str | None
    max_concurrent_tasks: int | None
    share: int | None = None
    budgets: AgentBudgetsPublic | None
    description: str | None


def _key_label(value: str) -> str:
    return value if value.startswith("olk_") else f"olk_{value}"


class AgentPublic(AgentSpecPublic):
    """An agent at its current version."""

    name: str
    version: int = Field(description="The current version; every update makes the next.")
    disabled_at: datetime | None
    created_at: datetime
    updated_at: datetime = Field(description="When the current version was made.")
    updated_by: str = Field(description="The API key that made it, `olk_<id>`.")

    _label = field_validator("updated_by", mode="before")(_key_label)


class AgentVersionPublic(AgentSpecPublic):
    """One version of an agent's spec, as written (versions never change)."""

    name: str
    version: int
    created_at: datetime
    created_by: str = Field(description="The API key that made it, `olk_<id>`.")

    _label = field_validator("created_by", mode="before")(_key_label)


class AgentChange(BaseModel):
    field: str
    old: Any = Field(description="The value in `from` (null: unset).")
    new: Any = Field(description="The value in `to`.")


class AgentDiff(BaseModel):
    name: str
    from_version: int
    to_version: int
    changes: list[AgentChange] = Field(description="The fields that differ, in spec order.")


class AgentUsageRow(BaseModel):
    agent_version: int
    provider: str | None
    model: str | None
    tasks: int
    calls: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_micro_usd: int


class AgentUsage(BaseModel):
    """An agent's model calls over every task submitted to it: totals, and per version,
    provider and model (`by_model`)."""

    name: str
    calls: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_micro_usd: int
    by_model: list[AgentUsageRow]


class ReplayRequest(_Request):
    """Replay a finished agent task from its `from_call`-th model call, optionally with another
    model, system prompt or temperature (a field left out keeps the pinned version's value)."""

    from_call: Annotated[StrictInt, Field(ge=1, le=1_000_000), WHOLE] = Field(
        description="N: the task's model calls are numbered 1, 2, ... in the order they completed "
        "(GET .../model-calls, status completed); calls before N reuse the recorded answers."
    )
    provider: ProviderName | None = Field(None, description="Override: anthropic, openai, offline.")
    model: Label | None = Field(None, description="Override: the provider's model name.")
    system_prompt: SystemPrompt | None = Field(None, description="Override: the system prompt.")
    temperature: Temperature | None = Field(None, description="Override: 0-2.")

    def overrides(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"from_call"}, exclude_none=True)


class TaskOutcome(BaseModel):
    """A task's outcome and its model calls summed, for a side-by-side comparison."""

    id: uuid.UUID
    state: TaskState
    result: Any | None
    error: JsonObject | None
    replay_of: uuid.UUID | None
    replay_from_call: int | None
    agent: str | None
    agent_version: int | None
    agent_overrides: JsonObject | None
    created_at: datetime
    finished_at: datetime | None
    calls: int
    reused: int = Field(description="Calls taken from the original's journal (cost 0).")
    input_tokens: int
    output_tokens: int
    cost_micro_usd: int = Field(description="What this task spent on model calls (micro-USD).")


class ReplayComparison(BaseModel):
    """A task beside its replays."""

    task: TaskOutcome
    replays: list[TaskOutcome]


class ReplayCreated(BaseModel):
    task: TaskPublic = Field(description="The new task (the replay).")
    replay_of: uuid.UUID
    from_call: int
    overrides: JsonObject


class ArtifactPublic(BaseModel):
    """A text artifact a task's tool created; its content is at `.../artifacts/{name}`."""

    name: str
    content_type: str
    size_bytes: int
    created_at: datetime


TOOL_SERVER_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"


class ToolServerCreate(_Request):
    """An MCP server reached over streamable HTTP, with an optional bearer token."""

    name: Annotated[str, Field(pattern=TOOL_SERVER_NAME_PATTERN)] = Field(
        description="Unique in the tenant; its tools are offered as `name.tool`."
    )
    url: Annotated[str, Field(min_length=1, max_length=2000, pattern=NUL_FREE)] = Field(
        description="The server's MCP endpoint, http or https (e.g. https://host/mcp)."
    )
    token: (
        Annotated[str, Field(min_length=1, max_length=4000, pattern=r"^[\x21-\x7e]+$")] | None
    ) = Field(None, description="Sent as `Authorization: Bearer`; stored, never returned.")


class ServerToolPublic(BaseModel):
    name: str
    description: str
    input_schema: dict[str, Any]
    idempotent: bool


class ToolServerPublic(BaseModel):
    """A registered server: its tools as last discovered and its health. The token is never
    shown: `token_hint` is its last four characters."""

    name: str
    url: str
    has_token: bool
    token_hint: str | None
    tools: list[ServerToolPublic]
    health: Literal["unknown", "ok", "error"]
    health_error: str | None
    checked_at: datetime | None
    created_at: datetime
    created_by: str


# Budgets (api/routes/budgets.py). Amounts are integer micro-USD (1 USD = 1,000,000).
class TenantBudgetUpdate(_Request):
    """The tenant's daily limit, a UTC day; null: none."""

    per_day_micro_usd: MicroUsd | None = Field(
        description=f"0 to {MAX_BUDGET_MICRO_USD:,} micro-USD; null removes the limit."
    )


class TenantBudgetPublic(BaseModel):
    tenant: str
    per_day_micro_usd: int | None
    spent_today_micro_usd: int = Field(description="Settled cost of today's (UTC) calls.")
    reserved_today_micro_usd: int = Field(description="Worst case of calls in flight.")
    updated_at: datetime | None
    updated_by: str | None


class BudgetPause(BaseModel):
    """Why a task is paused: the window that refused its next model call."""

    reason: Literal["budget"]
    scope: Literal["task", "agent_hour", "tenant_day"]
    subject: str = Field(description="The task id, the agent's name, or '' for the tenant.")
    window_start: datetime | None = Field(
        description="null for a task's own budget; an agent's rolling hour: 3600 s before"
        " the pause."
    )
    window_end: datetime | None = Field(
        description="When a daily window ends; an agent's rolling hour: the pause itself."
    )
    limit_micro_usd: int
    spent_micro_usd: int = Field(description="Spent in the window when the task paused.")
    reserved_micro_usd: int
    needed_micro_usd: int = Field(description="The call's worst-case cost.")


class BudgetRequestPublic(BaseModel):
    """An inbox item: a task paused on a budget; raise the budget to at least
    `raise_to_micro_usd`, then POST /v1/tasks/{task_id}/resume."""

    task_id: uuid.UUID
    graph: str
    agent: str | None
    task_metadata: JsonObject
    paused_at: datetime
    pause: BudgetPause
    limit_micro_usd: int | None = Field(description="The window's limit now (null: none now).")
    spent_micro_usd: int = Field(description="Spent in the window now.")
    reserved_micro_usd: int
    raise_to_micro_usd: int = Field(description="The least limit the paused call fits under now.")


# Schedules (api/routes/schedules.py).
SCHEDULE_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"


class ScheduleCreate(_Request):
    """A cron schedule that submits a task to a graph or an agent at each slot."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"oneOf": [{"required": ["graph"]}, {"required": ["agent"]}]},
    )
    name: Annotated[str, Field(pattern=SCHEDULE_NAME_PATTERN)] = Field(
        description="Unique in the tenant (a slug)."
    )
    cron: Annotated[str, Field(min_length=1, max_length=200, pattern=LABEL_PATTERN)] = Field(
        description="Five cron fields (minute hour day month weekday) or @hourly, @daily, ..."
    )
    timezone: Annotated[str, Field(min_length=1, max_length=100, pattern=LABEL_PATTERN)] = Field(
        "UTC", description="The IANA time zone the cron fields are read in (Europe/Berlin)."
    )
    catch_up: Literal["latest", "all", "none"] = Field(
        "latest",
        description="Missed slots (the reaper was down, or late): latest fires only the most "
        "recent, all fires each (up to 100), none fires none.",
    )
    graph: Label = Field(_OMITTED, description="A registered graph (GET /v1/graphs).")
    agent: Annotated[str, Field(pattern=AGENT_NAME_PATTERN)] = Field(
        _OMITTED,
        description="An agent of your tenant; its tasks pin the version current at create.",
    )
    input: JsonInput = Field(default_factory=dict, description="Each task's input state.")
    max_attempts: MaxAttempts | None = Field(
        None, description="Each task's attempts; default OUTLAST_DEFAULT_MAX_ATTEMPTS."
    )


class ScheduleSlotPublic(BaseModel):
    """A fired slot and its task (`state` null once retention pruned the task)."""

    slot_at: datetime
    task_id: uuid.UUID
    fired_at: datetime
    state: str | None


class SchedulePublic(BaseModel):
    name: str
    cron: str
    timezone: str
    catch_up: Literal["latest", "all", "none"]
    graph: str
    agent: str | None
    agent_version: int | None
    input: dict[str, Any]
    max_attempts: int
    paused: bool
    next_run_at: datetime | None = Field(description="The next slot; null while paused.")
    next_runs: list[datetime] = Field(description="The next five slots; empty while paused.")
    created_at: datetime
    created_by: str
    tasks: list[ScheduleSlotPublic] | None = Field(
        None, description="The latest slots fired and their tasks (GET of one schedule)."
    )


# Provider rate limits (api/routes/rate_limits.py, ADR 0016).
MAX_PER_MINUTE = 10**12
PerMinute = Annotated[StrictInt, Field(ge=1, le=MAX_PER_MINUTE), WHOLE]


class RateLimitUpdate(_Request):
    """A tenant's limits on one provider's model, for every provider key the workers use."""

    provider: Literal["anthropic", "openai"] = Field(description="A provider with a key.")
    model: str = Field(min_length=1, max_length=200, pattern=NUL_FREE)
    tokens_per_minute: PerMinute | None = Field(
        description=f"1 to {MAX_PER_MINUTE:,}; null: no token limit."
    )
    requests_per_minute: PerMinute | None = Field(
        description=f"1 to {MAX_PER_MINUTE:,}; null: no request limit."
    )


class RateBucketPublic(BaseModel):
    """One provider key's bucket now. The key is named by its fingerprint, never shown."""

    key_fingerprint: str
    tokens_available: int | None
    requests_available: int | None
    blocked_until: datetime | None = Field(description="Set by a 429's Retry-After.")


class RateLimitPublic(BaseModel):
    provider: str
    model: str
    tokens_per_minute: int | None
    requests_per_minute: int | None
    updated_at: datetime
    updated_by: str
    buckets: list[RateBucketPublic] = Field(description="One per provider key used so far.")


# Webhooks (api/routes/webhooks.py, ADR 0020).
WEBHOOK_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
WebhookEvent = Literal["task.completed", "task.failed", "task.waiting", "task.budget_paused"]
WebhookUrl = Annotated[str, Field(min_length=1, max_length=2000, pattern=NUL_FREE)]
WebhookEvents = Annotated[list[WebhookEvent], Field(min_length=1, max_length=4)]


class WebhookCreate(_Request):
    """Where to POST which task events, signed (docs/howto/webhooks.md)."""

    name: Annotated[str, Field(pattern=WEBHOOK_NAME_PATTERN)] = Field(
        description="Unique in the tenant (a slug)."
    )
    url: WebhookUrl = Field(description="The receiver, http or https; a public address.")
    events: WebhookEvents = Field(
        description="task.completed; task.failed (dead-lettered); task.waiting (on a person); "
        "task.budget_paused."
    )
    allow_private: StrictBool = Field(
        False,
        description="Deliver to a private or loopback address (an operator's admin key only).",
    )


class WebhookUpdate(_Request):
    """Change a webhook; an omitted field keeps its value. Deliveries not sent yet use it."""

    url: WebhookUrl | None = Field(None, description="The receiver, http or https.")
    events: WebhookEvents | None = Field(None, description="The event types to deliver.")
    allow_private: StrictBool | None = Field(
        None, description="Deliver to a private address (an operator's admin key only)."
    )


class WebhookDeliveryPublic(BaseModel):
    """A delivery and its task (`state` null once retention pruned the task). The task's id is
    the Outlast-Webhook-Id the receiver dedupes on."""

    event_id: int
    event_type: str
    task_id: uuid.UUID
    created_at: datetime
    state: str | None
    attempts: int | None


class WebhookPublic(BaseModel):
    """A webhook. Its secret is shown once, in the answer to its creation, and never again."""

    name: str
    url: str
    events: list[str]
    allow_private: bool
    paused: bool
    created_at: datetime
    created_by: str
    deliveries: list[WebhookDeliveryPublic] | None = Field(
        None, description="The newest deliveries and their tasks (GET of one webhook)."
    )


class WebhookCreated(WebhookPublic):
    secret: str = Field(
        description="The signing secret (docs/howto/webhooks.md). Shown this once: store it."
    )


class CostHourPublic(BaseModel):
    """An hour's model calls of one agent ('' for graph tasks), by when they finished."""

    hour: datetime = Field(description="The hour's start (UTC).")
    agent: str
    calls: int
    cost_micro_usd: int = Field(description="Integer micro-USD.")
