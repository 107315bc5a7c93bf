"""Alembic, honest: the migrations build the schema the models describe, and round-trip."""

from __future__ import annotations

import psycopg
from alembic.script import ScriptDirectory

from db import migrate
from tests.support.database import DatabaseServer


def test_models_match_the_migrated_database(db_url: str) -> None:
    migrate.check(db_url)  # raises if autogenerate would change anything


def test_downgrade_then_upgrade_round_trips(pg_server: DatabaseServer, db_url: str) -> None:
    from alembic import command

    config = migrate.alembic_config(db_url)
    command.downgrade(config, "base")
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT to_regclass('tasks')").fetchone() == (None,)
    revisions = list(ScriptDirectory.from_config(config).walk_revisions())
    assert migrate.pending(db_url) == [r.revision for r in reversed(revisions)]
    migrate.upgrade(db_url)
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT to_regclass('tasks')::text").fetchone() == ("tasks",)


def test_state_check_constraint_refuses_unknown_state(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        try:
            conn.execute(
                "INSERT INTO tasks (tenant, graph, max_attempts, state) VALUES ('t', 'x', 1, 'lost')"
            )
        except psycopg.errors.CheckViolation as exc:
            assert "tasks_state_valid" in str(exc)
        else:
            raise AssertionError("an unknown state was stored")


def test_finished_task_must_have_finished_at(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        try:
            conn.execute(
                "INSERT INTO tasks (tenant, graph, max_attempts, state, result)"
                " VALUES ('t', 'x', 1, 'completed', '{}')"
            )
        except psycopg.errors.CheckViolation as exc:
            assert "tasks_finished_iff_terminal" in str(exc)
        else:
            raise AssertionError("a completed task without finished_at was stored")


def test_upgrade_reports_each_step_and_the_cli_migrates(db_url: str) -> None:
    from alembic import command
    from typer.testing import CliRunner

    from outlast.cli.app import app

    command.downgrade(migrate.alembic_config(db_url), "-3")
    todo = migrate.pending(db_url)
    assert len(todo) == 3
    steps: list[str] = []
    migrate.upgrade(db_url, on_step=steps.append)
    assert steps == [*todo, migrate.CHECKPOINTER]
    assert migrate.pending(db_url) == []
    command.downgrade(migrate.alembic_config(db_url), "-1")
    # Not a terminal: no bar, stdout is the result alone.
    result = CliRunner().invoke(app, ["db", "migrate"], env={"DATABASE_URL": db_url})
    assert result.exit_code == 0, result.output
    assert result.stdout == "migrated\n"
    assert migrate.pending(db_url) == []
