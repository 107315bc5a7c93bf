"""Errors a graph raises on purpose, and the rule that says which failures are retried.

    Exception
    └── NonRetryable        raise from a node to fail the task now, without further attempts;
        │                   it goes straight to the dead-letter table.
        └── UnstorableValue a result (or an interrupt's payload) Postgres cannot store: NaN,
                            Infinity, an int too long to write as text. It would fail the same
                            way on every attempt.

Any other exception from a node is retryable (the task is queued again with backoff until its
`max_attempts` are spent, then dead-lettered), except the deterministic ones the worker
recognises (docs/architecture.md, "Which failures are retried").
"""

from __future__ import annotations


class NonRetryable(Exception):
    """The task cannot succeed by trying again (bad input, a refused action)."""


class UnstorableValue(NonRetryable, ValueError):
    """A value the task produced cannot be stored (jsonb has no form for it)."""
