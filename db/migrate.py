"""The one migrate step: Alembic for Outlast's tables, then LangGraph's own `setup()` for its
checkpoint tables (they stay out of Alembic; the library versions and migrates them itself)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

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


def upgrade(url: str) -> None:
    """Bring the database to the newest schema: Outlast's tables, then the checkpointer's."""
    command.upgrade(alembic_config(url), "head")
    setup_checkpointer(url)


def check(url: str) -> None:
    """Raise if the models and the migrated database disagree (`alembic check`)."""
    command.check(alembic_config(url))


def setup_checkpointer(url: str) -> None:
    from langgraph.checkpoint.postgres import PostgresSaver

    with PostgresSaver.from_conn_string(url) as saver:
        saver.setup()
