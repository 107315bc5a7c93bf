"""Which Postgres to use: `DATABASE_URL` when set, else the embedded server (started if needed)."""

from __future__ import annotations

from outlast.embedded import EmbeddedPostgres
from outlast.settings import Settings


def embedded(settings: Settings) -> EmbeddedPostgres:
    return EmbeddedPostgres(settings.data_dir, settings.embedded_pg_port)


def resolve_url(settings: Settings, *, start: bool = True) -> str:
    """The database URL every process connects to. Without DATABASE_URL, the embedded server's
    (started first when `start`)."""
    if settings.database_url:
        return settings.database_url
    server = embedded(settings)
    return server.start() if start else server.url()
