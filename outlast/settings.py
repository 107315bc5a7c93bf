"""The one settings object. Configuration comes only from the environment.

Every field is documented in docs/operations.md; a unit test keeps that table and this class in
agreement. `DATABASE_URL` has no prefix (as every Postgres tool expects); the rest are `OUTLAST_*`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, PositiveFloat, PositiveInt
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    api_access_log: bool = Field(True, description="The API logs one JSON line per request.")

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
    shutdown_grace_s: float = Field(
        0.0, ge=0, description="On SIGTERM, how long running tasks may finish before release."
    )

    reaper_interval_s: PositiveFloat = Field(5.0, description="Reaper period (jittered +-20%).")
    reaper_batch: PositiveInt = Field(500, description="Most rows one reaper statement touches.")
    retention_days: float = Field(
        30.0, ge=0, description="Finished tasks are deleted this long after; 0 keeps them."
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

    @property
    def heartbeat_every_s(self) -> float:
        return self.heartbeat_interval_s or self.lease_ttl_s / 3

    @property
    def worker_stale_after_s(self) -> float:
        return self.worker_stale_s or self.lease_ttl_s * 3


def load() -> Settings:
    return Settings()
