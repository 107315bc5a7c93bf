"""Outlast: a Postgres-native durable runtime for long-running LangGraph agent tasks.

What users import: `outlast.context` (the running task's id and attempt inside a node),
`outlast.errors.NonRetryable`, `outlast.client.Client`, and `outlast.registry` for graphs.
"""

__version__ = "0.1.0"
