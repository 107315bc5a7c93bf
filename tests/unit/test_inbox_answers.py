"""Agent Inbox's HumanInterrupt and HumanResponse against Outlast approvals (api/platform.py;
the whole flow through the JS SDK: tests/e2e/test_langgraph_js_sdk.py)."""

from __future__ import annotations

from typing import Any

import pytest

from api.platform import INBOX_ANSWERS, inbox_resume, interrupt_value

APPROVAL = {
    "outlast": "approval",
    "action": "reimburse",
    "args": {"amount": 250},
    "summary": "travel expense",
    "timeout_s": None,
    "on_timeout": None,
}


def test_an_approval_also_carries_the_inbox_fields() -> None:
    shown = interrupt_value(APPROVAL)
    assert shown == {
        **APPROVAL,
        "action_request": {"action": "reimburse", "args": {"amount": 250}},
        "config": INBOX_ANSWERS,
        "description": "travel expense",
    }


@pytest.mark.parametrize("value", [{"outlast": "input", "question": "?"}, "plain", [1, 2]])
def test_other_interrupts_are_shown_as_they_are(value: Any) -> None:
    assert interrupt_value(value) == value


@pytest.mark.parametrize(
    ("answer", "resume"),
    [
        ([{"type": "accept", "args": None}], {"approved": True}),
        ({"type": "accept", "args": None}, {"approved": True}),
        (
            [{"type": "edit", "args": {"action": "reimburse", "args": {"amount": 200}}}],
            {"approved": True, "args": {"amount": 200}},
        ),
        ([{"type": "ignore", "args": None}], {"approved": False}),
        ([{"type": "response", "args": "too much"}], {"approved": False, "reason": "too much"}),
        ({"approved": True, "comment": "ok"}, {"approved": True, "comment": "ok"}),
        ({"decisions": [{"type": "approve", "args": None}]}, {"approved": True}),
        ({"decisions": [{"type": "reject", "args": "no"}]}, {"approved": False, "reason": "no"}),
        ([{"type": "other"}], [{"type": "other"}]),
        ([{"type": "accept"}, {"type": "ignore"}], [{"type": "accept"}, {"type": "ignore"}]),
    ],
)
def test_a_human_response_decides_the_approval(answer: Any, resume: Any) -> None:
    assert inbox_resume(answer) == resume
