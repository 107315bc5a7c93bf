"""Tools an agent graph can give its model. `request_human_input` asks a person from inside a
tool call: the task waits (`waiting_for_input`) until someone answers over the API, and the
answer becomes the tool's result."""

from __future__ import annotations

from typing import Any

from langchain_core.tools import tool

from outlast.human import request_input

__all__ = ["request_human_input"]


@tool
def request_human_input(question: str) -> Any:
    """Ask a person a question and wait for their answer. Use it when you need a fact, a
    preference or a confirmation that only a person can give."""
    return request_input(question)
