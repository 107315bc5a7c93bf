"""Every insert into task_events NOTIFYs `outlast_events` with the tenant: the wake-up of the
API's event streams (GET /v1/stream, GET /v1/tasks/{id}/stream; ADR 0015).

A statement-level trigger with a transition table, so a statement that writes many events (a
claim of 50 tasks, a group commit) sends one notification per tenant it touched, not one per
row; Postgres also folds identical notifications of one transaction into one. The notification
only wakes: a stream reads task_events from its offset, so a lost one costs a poll interval.

Revision ID: 0024
Revises: 0020
Create Date: 2026-11-28
"""

from alembic import op

revision = "0024"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION outlast_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('outlast_events', tenant)
            FROM (SELECT DISTINCT tenant FROM inserted_events) AS touched;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER task_events_notify AFTER INSERT ON task_events"
        " REFERENCING NEW TABLE AS inserted_events"
        " FOR EACH STATEMENT EXECUTE FUNCTION outlast_events_notify()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER task_events_notify ON task_events")
    op.execute("DROP FUNCTION outlast_events_notify()")
