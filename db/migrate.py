"""The one migrate step: Alembic for Outlast's tables, then LangGraph's own `setup()` for its
checkpoint tables (they stay out of Alembic; the library versions and migrates them itself)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool

HERE = Path(__file__).parent


def sqlalchemy_url(url: str) -> str:
    """The psycopg 3 dialect URL for a libpq-style `postgresql://` URL."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ValueError(f"not a PostgreSQL URL: {url.split('@')[-1]}")


def alembic_config(url: str) -> Config:
    config = Config(str(HERE / "alembic.ini"))
    config.set_main_option("script_location", str(HERE / "migrations"))
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(url).replace("%", "%%"))
    return config


CHECKPOINTER = "checkpointer"  # the step name of LangGraph's setup(), after the revisions


def pending(url: str) -> list[str]:
    """The revisions `upgrade` would apply, oldest first (read only)."""
    config = alembic_config(url)
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "", poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
    script = ScriptDirectory.from_config(config)
    revisions = script.iterate_revisions("head", current or "base")
    return [r.revision for r in reversed(list(revisions))]


def upgrade(url: str, on_step: Callable[[str], None] | None = None) -> None:
    """Bring the database to the newest schema: Outlast's tables, then the checkpointer's.
    `on_step(name)` is called as each revision is applied (they share one transaction, as
    before) and after the checkpointer's setup (`CHECKPOINTER`): a progress bar's ticks."""
    config = alembic_config(url)
    if on_step is not None:

        def applied(**info: Any) -> None:  # Alembic's on_version_apply(ctx, step, heads, ...)
            on_step(str(info["step"].up_revision_id))

        config.attributes["on_version_apply"] = applied
    command.upgrade(config, "head")
    setup_checkpointer(url)
    if on_step is not None:
        on_step(CHECKPOINTER)


def check(url: str) -> None:
    """Raise if the models and the migrated database disagree (`alembic check`)."""
    command.check(alembic_config(url))


def setup_checkpointer(url: str) -> None:
    from langgraph.checkpoint.postgres import PostgresSaver

    with PostgresSaver.from_conn_string(url) as saver:
        saver.setup()
