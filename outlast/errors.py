"""Errors a graph raises on purpose.

    Exception
    └── NonRetryable    raise from a node to fail the task now, without further attempts;
                        it goes straight to the dead-letter table.

Any other exception from a node is retryable: the task is queued again with backoff until its
`max_attempts` are spent, then dead-lettered.
"""

from __future__ import annotations


class NonRetryable(Exception):
    """The task cannot succeed by trying again (bad input, a refused action)."""
