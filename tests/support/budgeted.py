"""A graph whose one node makes one journaled model call (`openai:gpt-test`, pointed at the fake
model server by OPENAI_BASE_URL) with a small max_tokens, for budget tests: the call's worst
case is `worst_case(question)` at the test's prices (`PRICES`, 1 micro-USD a token)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from outlast.models import ModelRequest, PriceBook, UserMessage, call_model, chain
from outlast.models.messages import Params
from outlast.models.prices import estimated_prompt_tokens
from outlast.models.provider import ModelRef

MODEL = ModelRef("openai", "gpt-test")
MAX_TOKENS = 50
PRICES = '[openai."gpt-test"]\ninput = 1\noutput = 1\n'


class Asked(TypedDict, total=False):
    question: str
    answer: str


def request(question: str) -> ModelRequest:
    return ModelRequest(
        messages=(UserMessage(content=question),), params=Params(max_tokens=MAX_TOKENS)
    )


def prompt_tokens(question: str) -> int:
    return estimated_prompt_tokens(request(question))


def worst_case(question: str, prices_file: Path) -> int:
    return PriceBook(prices_file).worst_case(request(question), [MODEL])


async def ask(state: Asked, config: RunnableConfig) -> dict[str, Any]:
    models = chain(str(MODEL))
    try:
        response = await call_model(config, request(state["question"]), models)
    finally:
        await models.aclose()
    return {"answer": response.content}


budgeted: StateGraph[Asked] = StateGraph(Asked)
budgeted.add_node("ask", ask)
budgeted.add_edge(START, "ask")
budgeted.add_edge("ask", END)
