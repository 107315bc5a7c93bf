"""Which failures are retried (worker/failures.py, docs/architecture.md): deterministic errors
are not, and an error's text is always storable."""

from __future__ import annotations

import threading

import psycopg
import pytest
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.errors import GraphRecursionError, InvalidUpdateError

from db.outcome import Failure
from outlast.errors import NonRetryable, UnstorableValue
from worker.executor import TaskTimeout
from worker.failures import describe_failure


def raised(exc: BaseException) -> BaseException:
    """`exc` as it arrives at the executor: raised, so it has a traceback."""
    try:
        raise exc
    except BaseException as caught:
        return caught


def serde_error() -> BaseException:
    """What LangGraph's checkpoint serializer raises for a value it cannot write."""
    try:
        JsonPlusSerializer().dumps_typed(threading.Lock())
    except Exception as exc:
        return exc
    raise AssertionError("the serializer wrote a lock")


def caused(outer: BaseException, cause: BaseException) -> BaseException:
    try:
        try:
            raise cause
        except BaseException as inner:
            raise outer from inner
    except BaseException as caught:
        return caught


@pytest.mark.parametrize(
    "exc",
    [
        NonRetryable("bad input"),
        UnstorableValue("NaN"),
        TypeError("unsupported operand"),
        AttributeError("no attribute"),
        NameError("undefined"),
        ModuleNotFoundError("no module"),
        NotImplementedError(),
        UnicodeEncodeError("utf-8", "\udce9", 0, 1, "surrogates not allowed"),
        InvalidUpdateError("two writes"),
        GraphRecursionError("limit"),
        psycopg.errors.NumericValueOutOfRange("out of range"),
        psycopg.DataError("refused"),
        serde_error(),
        caused(RuntimeError("the call failed"), NonRetryable("refused")),
        caused(RuntimeError("the call failed"), TypeError("bad argument")),
        ExceptionGroup("branches", [ConnectionError("reset"), TypeError("bad")]),
    ],
    ids=repr,
)
def test_deterministic_errors_are_not_retried(exc: BaseException) -> None:
    assert describe_failure(raised(exc)).retryable is False


@pytest.mark.parametrize(
    "exc",
    [
        RuntimeError("boom"),
        ConnectionError("reset"),
        TimeoutError(),
        TaskTimeout("ran past timeout_s"),
        caused(TaskTimeout("ran past timeout_s"), TimeoutError()),
        psycopg.OperationalError("server closed the connection"),
        ValueError("the provider answered 503"),
        ExceptionGroup("branches", [ConnectionError("reset"), OSError("io")]),
        # Only an explicit cause counts: an error raised while handling another is judged alone.
        RuntimeError("cleanup failed"),
    ],
    ids=repr,
)
def test_other_errors_are_retried(exc: BaseException) -> None:
    assert describe_failure(raised(exc)).retryable is True


def test_an_error_raised_while_handling_a_deterministic_one_is_retried() -> None:
    try:
        try:
            raise TypeError("bad")
        except TypeError:
            raise ConnectionError("lost while reporting")  # noqa: B904 - the implicit context
    except ConnectionError as exc:
        assert describe_failure(exc).retryable is True


def test_the_real_type_message_and_traceback_are_kept() -> None:
    failure = describe_failure(raised(NonRetryable("no \x00 way")))
    assert (failure.type, failure.message) == ("NonRetryable", "no \x00 way")
    assert failure.traceback is not None and "raise exc" in failure.traceback


def test_a_failure_is_always_storable_text() -> None:
    failure = Failure("Bad\x00Type", "nul \x00 and caf\udce9", "tb \ud800", retryable=False)
    assert failure.as_json() == {
        "type": "Bad\ufffdType",
        "message": "nul \ufffd and caf\ufffd",
        "traceback": "tb \ufffd",
        "retryable": False,
    }
