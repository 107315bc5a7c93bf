"""Alembic environment: migrates the database named by the `sqlalchemy.url` main option,
which db.migrate sets from DATABASE_URL (or the embedded server) before running."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from db.models import Base

config = context.config
target_metadata = Base.metadata


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """LangGraph's checkpoint tables belong to its own setup(), not to Alembic."""
    table = getattr(obj, "table", obj) if type_ == "index" else obj
    table_name = getattr(table, "name", name) or ""
    return not table_name.startswith("checkpoint")


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("db.migrate sets sqlalchemy.url; run `outlast db migrate`")
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_object=include_object,
            # db.migrate.upgrade's progress callback, when it was given one
            on_version_apply=config.attributes.get("on_version_apply", ()),
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
