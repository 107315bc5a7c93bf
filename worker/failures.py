"""How a failed attempt is described and whether it is retried.

The rule (docs/architecture.md, "Which failures are retried"): an attempt is retried unless its
error is deterministic, that is, the same input would raise it again on every attempt:

- `NonRetryable` (and `UnstorableValue`), raised on purpose;
- programming and data errors: TypeError (this includes LangGraph's serde refusing a value it
  cannot serialise into a checkpoint), NameError, AttributeError, ImportError,
  NotImplementedError, RecursionError (LangGraph's GraphRecursionError too), UnicodeError,
  LangGraph's InvalidUpdateError, and psycopg.DataError (Postgres refusing a value);
- any error raised `from` one of these (`raise X from TypeError(...)`), and an exception group
  holding one (a parallel branch that can never succeed fails the whole attempt every time).

Anything else (network errors, timeouts, a provider's 5xx, a lost database) is retried with
backoff until `max_attempts` are spent.
"""

from __future__ import annotations

import traceback

import psycopg
from langgraph.errors import InvalidUpdateError

from db import outcome
from outlast.errors import NonRetryable

DETERMINISTIC: tuple[type[BaseException], ...] = (
    NonRetryable,
    TypeError,
    NameError,
    AttributeError,
    ImportError,
    NotImplementedError,
    RecursionError,
    UnicodeError,
    InvalidUpdateError,
    psycopg.DataError,
)

TRACEBACK_CHARS = 20_000


def is_deterministic(exc: BaseException) -> bool:
    """Whether `exc`, an explicit cause of it, or a member of its group is DETERMINISTIC."""
    seen: set[int] = set()
    pending = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, DETERMINISTIC):
            return True
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        if current.__cause__ is not None:
            pending.append(current.__cause__)
    return False


def describe_failure(exc: BaseException) -> outcome.Failure:
    """The attempt's error as it is recorded: its real type, message and traceback (the tail),
    and whether it is retried. db.outcome makes the text storable."""
    return outcome.Failure(
        type=type(exc).__name__,
        message=str(exc) or type(exc).__name__,
        traceback="".join(traceback.format_exception(exc))[-TRACEBACK_CHARS:],
        retryable=not is_deterministic(exc),
    )
