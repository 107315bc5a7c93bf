"""outlast/jsonsafe.py: what Postgres jsonb refuses is replaced (text) or refused (numbers)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from outlast.errors import NonRetryable, UnstorableValue
from outlast.jsonsafe import dumps, dumps_storable, to_storable_json


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ({"a": "x\x00y"}, {"a": "x\ufffdy"}),
        ({"name": "caf\udce9"}, {"name": "caf\ufffd"}),
        ({"k\x00": ["\ud800"]}, {"k\ufffd": ["\ufffd"]}),
        ("a literal \\u0000 stays", "a literal \\u0000 stays"),
        ({"n": 1.5, "big": 10**100}, {"n": 1.5, "big": 10**100}),
    ],
)
def test_text_postgres_refuses_becomes_the_replacement_character(value: Any, stored: Any) -> None:
    assert json.loads(dumps(value)) == stored
    assert json.loads(dumps_storable(value)) == stored


@pytest.mark.parametrize(
    "value",
    [float("nan"), {"x": float("inf")}, [float("-inf")], 10**5000],
    ids=["nan", "infinity", "-infinity", "huge_int"],
)
def test_numbers_without_a_json_form_are_refused_not_altered(value: Any) -> None:
    with pytest.raises(UnstorableValue, match="the result cannot be stored as JSON"):
        dumps_storable(value, "result")


def test_a_circular_value_is_refused() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(UnstorableValue):
        to_storable_json(loop)


def test_an_unstorable_value_is_not_retried() -> None:
    assert issubclass(UnstorableValue, NonRetryable)
