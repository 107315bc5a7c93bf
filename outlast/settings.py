"""The one settings object. Configuration comes only from the environment.

Every field is documented in docs/operations.md; a unit test keeps that table and this class in
agreement. `DATABASE_URL` has no prefix (as every Postgres tool expects); the rest are `OUTLAST_*`.
"""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path
from typing import Literal

from pydantic import (
    AliasChoices,
    Field,
    PositiveFloat,
    PositiveInt,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

# A worker that cannot renew a lease stops that task itself this far into the lease's TTL after
# its last renewal, ahead of the lease's expiry in the database (worker/heartbeat.py).
FENCE_FRACTION = 0.8


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OUTLAST_", extra="ignore", frozen=True)

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "OUTLAST_DATABASE_URL"),
        description="Postgres to use. Unset: the embedded server under data_dir.",
    )
    data_dir: Path = Field(Path(".data"), description="Embedded Postgres data, logs and pid files.")
    embedded_pg_port: PositiveInt = Field(54329, description="Port of the embedded Postgres.")

    api_host: str = Field("127.0.0.1", description="Address the API binds to.")
    api_port: PositiveInt = Field(8000, description="Port the API (and later the console) serves.")
    max_body_bytes: PositiveInt = Field(1_048_576, description="Largest request body accepted.")
    max_json_depth: PositiveInt = Field(32, description="Deepest JSON nesting accepted in a body.")
    api_statement_timeout_s: PositiveFloat = Field(
        15.0, description="Longest one API statement may run; then 503 database-timeout."
    )
    api_lock_timeout_s: PositiveFloat = Field(
        5.0, description="Longest one API statement may wait for a lock; then 503."
    )
    api_pool_size: PositiveInt = Field(
        10,
        description="Database connections one API process pools; a request that waits"
        " api_pool_wait_s for one answers 503 with Retry-After.",
    )
    api_pool_wait_s: PositiveFloat = Field(
        5.0, description="Longest a request waits for a pooled connection; then 503."
    )
    stream_poll_s: PositiveFloat = Field(
        5.0,
        description="An event stream reads task_events this often without a NOTIFY (ADR 0015).",
    )
    stream_gap_s: PositiveFloat = Field(
        3.0,
        description="An event stream waits this long for a missing event id (an insert not yet"
        " committed) before taking it for a rolled-back one (ADR 0015).",
    )
    api_access_log: bool = Field(True, description="The API logs one JSON line per request.")
    auth: Literal["on", "off"] = Field(
        "on",
        description="`off`: the API takes no API key and treats every caller as an admin of"
        " tenant `default`. Local development only; warned at every start.",
    )
    rate_limit_per_s: PositiveFloat = Field(
        50.0, description="Requests per second one API key may make, per API replica."
    )
    rate_limit_burst: PositiveInt = Field(
        100, description="Requests one API key may make at once before the rate applies."
    )

    worker_concurrency: PositiveInt = Field(8, description="Tasks one worker process runs at once.")
    lease_ttl_s: PositiveFloat = Field(
        30.0, description="How long a claim lasts without heartbeat."
    )
    heartbeat_interval_s: PositiveFloat | None = Field(
        None, description="Heartbeat period; unset means lease_ttl_s / 3."
    )
    poll_interval_s: PositiveFloat = Field(
        2.0, description="Claim poll period (jittered +-20%); NOTIFY wakes workers sooner."
    )
    notify: bool = Field(True, description="Use LISTEN/NOTIFY to wake idle workers.")
    claim_fair: bool = Field(
        True, description="Claim round-robin across agents, with their concurrency caps."
    )
    shutdown_grace_s: float = Field(
        0.0, ge=0, description="On SIGTERM, how long running tasks may finish before release."
    )

    reaper_interval_s: PositiveFloat = Field(5.0, description="Reaper period (jittered +-20%).")
    reaper_batch: PositiveInt = Field(500, description="Most rows one reaper statement touches.")
    retention_days: float = Field(
        30.0, ge=0, description="Finished tasks are deleted this long after; 0 keeps them."
    )
    dead_letter_retention_days: float = Field(
        30.0,
        ge=0,
        description="Closed (redriven or resolved) dead letters are deleted this long after; 0 "
        "keeps them. Open ones (and their failed tasks) are kept until closed.",
    )
    token_retention_s: PositiveFloat = Field(
        600.0,
        description="The reaper deletes a model call's streamed token deltas (llm_deltas) this"
        " long after they arrived (ADR 0022).",
    )
    worker_stale_s: PositiveFloat | None = Field(
        None, description="Worker marked lost after this long silent; unset means 3 x lease TTL."
    )

    wait_timeout_s: PositiveFloat = Field(
        86_400.0, description="How long a human wait lasts unless the task or interrupt says."
    )
    default_max_attempts: PositiveInt = Field(3, description="max_attempts when a task omits it.")
    retry_base_s: PositiveFloat = Field(2.0, description="First retry delay (doubles per attempt).")
    retry_max_s: PositiveFloat = Field(600.0, description="Cap on one retry delay.")

    graphs: str = Field(
        "",
        description="Extra graphs, comma-separated `name=module:attribute`.",
    )
    log_level: str = Field("INFO", description="Log level of every process (JSON lines).")

    # Model providers (outlast.models). The vendors' own variable names, as their SDKs use them.
    anthropic_api_key: SecretStr | None = Field(
        None, validation_alias="ANTHROPIC_API_KEY", description="Key of the anthropic provider."
    )
    anthropic_base_url: str | None = Field(
        None, validation_alias="ANTHROPIC_BASE_URL", description="Another Anthropic endpoint."
    )
    openai_api_key: SecretStr | None = Field(
        None, validation_alias="OPENAI_API_KEY", description="Key of the openai provider."
    )
    openai_base_url: str | None = Field(
        None,
        validation_alias="OPENAI_BASE_URL",
        description="An OpenAI-compatible server to use instead of OpenAI's.",
    )
    model_timeout_s: PositiveFloat = Field(60.0, description="Longest one model call attempt.")
    model_attempts: PositiveInt = Field(4, description="Tries of one model call per provider.")
    model_retry_after_max_s: PositiveFloat = Field(
        60.0, description="Cap on a provider's Retry-After."
    )
    model_rate_wait_max_s: float = Field(
        10.0,
        ge=0,
        description="A model call waiting on a provider rate limit (PUT /v1/rate-limits) sleeps"
        " in its worker slot at most this long; a longer wait gives the task back, queued to"
        " run when the bucket allows.",
    )
    model_prices_file: Path | None = Field(
        None, description="JSON or TOML prices per provider/model that win over genai-prices."
    )

    # Tools (outlast.toolcall, outlast.netguard, outlast.mcp).
    net_allow: str = Field(
        "",
        description="Networks (comma-separated CIDRs) that read_url and tool servers may reach"
        " despite the SSRF rules. Empty in production; tests allow 127.0.0.0/8.",
    )
    fetch_timeout_s: PositiveFloat = Field(10.0, description="Longest one read_url fetch.")
    fetch_max_bytes: PositiveInt = Field(
        1_000_000, description="Most bytes read_url reads of a body."
    )
    tool_timeout_s: PositiveFloat = Field(30.0, description="Longest one tool call.")
    tool_result_max_chars: PositiveInt = Field(
        100_000, description="Longest tool result handed to the model (longer is cut)."
    )

    # Webhooks (worker/webhooks.py, the reaper's dispatcher; docs/howto/webhooks.md).
    webhook_timeout_s: PositiveFloat = Field(
        10.0, description="Longest one webhook delivery attempt (connect, send, answer)."
    )
    webhook_max_attempts: PositiveInt = Field(
        10, description="Attempts of one webhook delivery before it is dead-lettered."
    )
    webhook_settle_s: float = Field(
        2.0,
        ge=0,
        description="Age an event must reach before the dispatcher reads it (an event id is"
        " taken before its transaction commits).",
    )

    # Traces (outlast.traces, docs/howto/observability.md). The exporter's own OTEL_* variables
    # (endpoint, headers, service name, sampler) are read by the OpenTelemetry SDK.
    otel: Literal["auto", "on", "off"] = Field(
        "auto",
        description="OpenTelemetry traces: `auto` exports when OTEL_EXPORTER_OTLP_ENDPOINT (or"
        " OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set; `on` always (the SDK's default endpoint);"
        " `off` never.",
    )
    otel_exporter_otlp_endpoint: str | None = Field(
        None,
        validation_alias=AliasChoices(
            "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
        ),
        description="The OTLP/HTTP collector traces go to; set, it turns tracing on (the"
        " OpenTelemetry SDK reads it, and its traces-only variant, itself).",
    )
    otel_capture_content: bool = Field(
        False,
        validation_alias=AliasChoices(
            "OUTLAST_OTEL_CAPTURE_CONTENT", "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
        ),
        description="Put prompts, responses, tool arguments and results (and error messages)"
        " in spans. Off: spans hold names, models, token counts and costs only.",
    )

    @field_validator("net_allow")
    @classmethod
    def _networks(cls, value: str) -> str:
        for entry in filter(None, (e.strip() for e in value.split(","))):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"not an address or network: {entry!r}") from None
        return value

    @model_validator(mode="after")
    def _check_together(self) -> Settings:
        """Settings that are each valid but impossible together are refused at start-up."""
        problems = timing_problems(self.lease_ttl_s, self.heartbeat_every_s)
        if self.worker_stale_after_s <= self.heartbeat_every_s:
            problems.append(
                f"OUTLAST_WORKER_STALE_S ({self.worker_stale_after_s:g}) must be longer than the"
                f" heartbeat interval ({self.heartbeat_every_s:g}): a healthy worker would be"
                " marked lost between two heartbeats"
            )
        if self.retry_base_s > self.retry_max_s:
            problems.append(
                f"OUTLAST_RETRY_BASE_S ({self.retry_base_s:g}) must not exceed"
                f" OUTLAST_RETRY_MAX_S ({self.retry_max_s:g})"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def heartbeat_every_s(self) -> float:
        return self.heartbeat_interval_s or self.lease_ttl_s / 3

    @property
    def worker_stale_after_s(self) -> float:
        return self.worker_stale_s or self.lease_ttl_s * 3


def timing_problems(lease_ttl_s: float, heartbeat_every_s: float) -> list[str]:
    """What is wrong with a lease TTL and heartbeat interval taken together (empty: nothing)."""
    if heartbeat_every_s < lease_ttl_s * FENCE_FRACTION:
        return []
    return [
        f"OUTLAST_HEARTBEAT_INTERVAL_S ({heartbeat_every_s:g}) must be less than"
        f" {FENCE_FRACTION:.0%} of OUTLAST_LEASE_TTL_S ({lease_ttl_s:g}): a worker stops a task"
        f" itself {FENCE_FRACTION:g} x TTL after its lease's last renewal, so its leases would"
        " lapse between two heartbeats"
    ]


def load() -> Settings:
    return Settings()


def load_or_exit(program: str) -> Settings:
    """The settings, or a one-line message naming what is wrong and exit status 2 (for the
    process entry points: no traceback)."""
    try:
        return Settings()
    except ValidationError as exc:
        print(f"{program}: bad configuration: {describe(exc)}", file=sys.stderr)
        raise SystemExit(2) from None


def describe(exc: ValidationError) -> str:
    """Each problem as `variable: rule`, on one line. Not str(exc): for a check across fields
    that prints every input value, DATABASE_URL's password included."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        rule = error["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {rule}" if where else rule)
    return "; ".join(parts)
