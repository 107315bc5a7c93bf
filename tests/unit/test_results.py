from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from outlast.jsonsafe import to_json


@dataclasses.dataclass
class Point:
    x: int


def test_state_values_become_json_and_nul_is_replaced() -> None:
    value = {"when": datetime(2030, 1, 1, tzinfo=UTC), "tags": {"a"}, "p": Point(1), "s": "a\x00b"}
    assert to_json(value) == {
        "when": "2030-01-01T00:00:00+00:00",
        "tags": ["a"],
        "p": {"x": 1},
        "s": "a\ufffdb",
    }
