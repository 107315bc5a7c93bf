"""Agent tasks and replays: a task replayed from another task's N-th model call, and the model
calls a replay took from the journal of the task it replays.

- `tasks.replay_of` (the task replayed), `tasks.replay_from_call` (N: calls before the N-th are
  reused, from the N-th on the model is called) and `tasks.agent_overrides` (the model, prompt or
  temperature the replay runs with instead of its pinned agent version's; JSON object).
- `llm_calls.replay_of_call`: the original task's call whose response a replay reused; such a row
  cost nothing (no request went to a provider).
- `tasks_agent`: a tenant's tasks of one agent, for the per-agent usage sums; `tasks_replays`:
  the replays of a task.

docs/howto/agents-and-models.md, "Replay".

Revision ID: 0020
Revises: 0014
Create Date: 2026-11-28
"""

from alembic import op

revision = "0020"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE tasks
            ADD COLUMN replay_of uuid,
            ADD COLUMN replay_from_call integer,
            ADD COLUMN agent_overrides jsonb,
            ADD CONSTRAINT tasks_replay_complete
                CHECK ((replay_of IS NULL) = (replay_from_call IS NULL)),
            ADD CONSTRAINT tasks_replay_from_call_positive
                CHECK (replay_from_call IS NULL OR replay_from_call >= 1)
        """
    )
    op.execute("ALTER TABLE llm_calls ADD COLUMN replay_of_call bigint")
    op.execute("CREATE INDEX tasks_agent ON tasks (tenant, agent) WHERE agent IS NOT NULL")
    op.execute("CREATE INDEX tasks_replays ON tasks (replay_of) WHERE replay_of IS NOT NULL")


def downgrade() -> None:
    op.execute("DROP INDEX tasks_replays")
    op.execute("DROP INDEX tasks_agent")
    op.execute("ALTER TABLE llm_calls DROP COLUMN replay_of_call")
    op.execute(
        "ALTER TABLE tasks DROP COLUMN agent_overrides, DROP COLUMN replay_from_call, "
        "DROP COLUMN replay_of"
    )
