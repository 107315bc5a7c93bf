"""call_tool outside a worker (no ledger): the allow-list refuses as a tool error, a tool that
raises, times out or returns what JSON cannot hold is a tool error, never an exception; the
calculator computes without eval and within bounds; HTML becomes text."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from outlast.calculator import evaluate
from outlast.errors import ToolError
from outlast.htmltext import html_to_text
from outlast.toolcall import call_tool, describe_tools, is_allowed
from outlast.toolservers import MAX_SCHEMA_CHARS, _tool_row
from tests.support.tooled import TEST_TOOLS


async def test_a_tool_outside_the_allow_list_is_a_tool_error() -> None:
    result = await call_tool(None, "read_url", {"url": "http://x"}, allowed=["calculator"])
    assert result.is_error and "not allowed" in (result.error or "")
    allowed = await call_tool(None, "calculator", {"expression": "6*7"}, allowed=["calculator"])
    assert allowed.content == {"value": 42} and not allowed.is_error


def test_server_wildcards() -> None:
    assert is_allowed("docs.search", ["docs.*"])
    assert is_allowed("docs.search", ["docs.search"])
    assert not is_allowed("docs.search", ["other.*", "docs.read"])
    assert not is_allowed("calculator", [])
    assert is_allowed("anything", None)


@pytest.mark.parametrize(
    ("name", "arguments", "error"),
    [
        ("garbage", {}, "not JSON"),
        ("boom", {}, "RuntimeError: the tool broke"),
        ("nope", {}, "there is no tool"),
        ("srv.tool", {}, "only in a worker"),
        ("calculator", ["not", "an", "object"], "JSON object"),
        ("calculator", {"expression": "__import__('os')"}, "not allowed in an expression"),
        ("create_text_artifact", {"name": "a.txt", "content": "x"}, "in a worker"),
        ("read_url", {"url": "http://169.254.169.254/latest"}, "metadata"),
        ("read_url", {"url": "file:///etc/passwd"}, "only http and https"),
    ],
)
async def test_failures_are_tool_errors(name: str, arguments: object, error: str) -> None:
    result = await call_tool(None, name, arguments, tools=TEST_TOOLS)
    assert result.is_error and error in (result.error or ""), result.error
    assert result.text().startswith("error: ")


@pytest.mark.parametrize(
    ("expression", "value"),
    [("1 + 2 * 3", 7), ("2 ** 10", 1024), ("-(3 - 5) / 4", 0.5), ("sqrt(16) + max(1, 2)", 6.0),
     ("7 // 2 + 7 % 2", 4), ("round(pi, 2)", 3.14)],
)  # fmt: skip
def test_calculator(expression: str, value: float) -> None:
    assert evaluate(expression) == value


@pytest.mark.parametrize(
    "expression",
    ["9 ** 9 ** 9", "2 ** 100000", "10 ** 5000", "1 / 0", "exp(1000)", "a + 1", "().__class__",
     "[1] * 10", "'x' * 9", "-" * 200 + "1", "1" * 2000, "", "lambda: 1",
     "True + 1"],
)  # fmt: skip
def test_calculator_refuses(expression: str) -> None:
    with pytest.raises(ToolError):
        evaluate(expression)


def test_html_to_text() -> None:
    title, text = html_to_text(
        "<html><head><title>T &amp; C</title><style>p{}</style></head>"
        "<body><script>alert(1)</script><h1>Hello</h1><p>a  <b>b</b>\n c</p></body></html>"
    )
    assert title == "T & C"
    assert text == "Hello\n\na b c"


async def test_describe_tools_lists_the_allowed_ones() -> None:
    specs = await describe_tools(None, ["calculator", "read_url", "nope", "srv.*"])
    assert [s["name"] for s in specs] == ["calculator", "read_url"]
    assert specs[0]["parameters"]["required"] == ["expression"]


def _listed(name: str, schema: dict[str, object], hints: object = None) -> SimpleNamespace:
    return SimpleNamespace(name=name, description="d", input_schema=schema, annotations=hints)


def test_discovered_tools_are_capped_and_checked() -> None:
    big = {"type": "object", "description": "x" * (MAX_SCHEMA_CHARS + 1)}
    with pytest.raises(ToolError, match="input schema is"):
        _tool_row(_listed("huge", big))
    with pytest.raises(ToolError, match="tool name"):
        _tool_row(_listed("has.dot", {"type": "object"}))
    hints = SimpleNamespace(idempotent_hint=None, read_only_hint=True)
    assert _tool_row(_listed("read", {"type": "object"}, hints))["idempotent"] is True
    assert _tool_row(_listed("write", {"type": "object"}))["idempotent"] is False
