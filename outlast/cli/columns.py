"""The table columns of each list the CLI prints (outlast.cli.output): what a person scans for.
`-o json` and `-o yaml` print every field."""

from __future__ import annotations

from outlast.cli.output import Column, Json, age, field


def _target(item: Json) -> str:
    """The agent and the version it pinned, else the graph."""
    if item.get("agent"):
        return f"agent {item['agent']} v{item.get('agent_version')}"
    return str(item.get("graph", ""))


def _attempts(item: Json) -> str:
    return f"{item.get('attempts')}/{item.get('max_attempts')}"


def _cost(item: Json) -> str:
    """Micro-USD as dollars: '$0.0123'; '' for a task that has made no paid call."""
    micro = item.get("cost_micro_usd")
    return f"${micro / 1_000_000:.4f}" if isinstance(micro, int) and micro else ""


def _next_run(item: Json) -> str:
    return "paused" if item.get("paused") else str(item.get("next_run_at") or "")


TASK_COLUMNS = (
    field("id"),
    field("state"),
    Column("GRAPH/AGENT", _target),
    Column("ATTEMPTS", _attempts),
    age(),
    Column("COST", _cost),
)
WAIT_COLUMNS = (
    field("task_id", "TASK"),
    field("kind"),
    field("graph"),
    field("task_state", "STATE"),
    age(),
    age("expires_at", "EXPIRES"),
)
DEAD_LETTER_COLUMNS = (
    field("id"),
    field("task_id", "TASK"),
    field("graph"),
    field("error_type", "ERROR"),
    field("attempts"),
    age(),
)
GROUP_COLUMNS = (
    field("graph"),
    field("error_type", "ERROR"),
    field("count"),
    age("first_at", "FIRST"),
    age("last_at", "LAST"),
)
KEY_COLUMNS = (
    field("id"),
    field("name"),
    field("tenant"),
    Column("SCOPES", lambda item: " ".join(item.get("scopes", []))),
    age(),
    age("last_used_at", "USED"),
    Column("REVOKED", lambda item: "yes" if item.get("revoked_at") else ""),
)
SCHEDULE_COLUMNS = (
    field("name"),
    field("cron"),
    field("timezone"),
    Column("GRAPH/AGENT", _target),
    field("catch_up", "CATCH-UP"),
    Column("NEXT RUN", _next_run),
)
WEBHOOK_COLUMNS = (
    field("name"),
    field("url"),
    Column("EVENTS", lambda item: ",".join(item.get("events", []))),
    Column("STATE", lambda item: "paused" if item.get("paused") else "active"),
    age(),
)
