"""A document pipeline: normalise, split, count, pick keywords, summarise, report.

Six nodes of real work on `input.text`, each checkpointed. `input.delay_s` (0-60) pauses in every
node, to watch a task move through a worker, or to kill one mid-run.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections import Counter
from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph

STOPWORDS = frozenset(
    (  # noqa: SIM905 (a word list reads best as words)
        "a an and are as at be but by for from has have he her his i in is it its not of on or "
        "our she so that the their them there they this to was we were what when which who will "
        "with you your"
    ).split()
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[a-z0-9']+")


class Document(TypedDict, total=False):
    text: str
    delay_s: float
    normalized: str
    sentences: list[str]
    word_counts: dict[str, int]
    keywords: list[str]
    summary: str
    report: dict[str, Any]


async def _pause(state: Document) -> None:
    delay = float(state.get("delay_s") or 0)
    if delay > 0:
        await asyncio.sleep(min(delay, 60.0))


async def normalize(state: Document) -> Document:
    await _pause(state)
    return {"normalized": " ".join(str(state.get("text", "")).split())}


async def split_sentences(state: Document) -> Document:
    await _pause(state)
    text = state["normalized"]
    return {"sentences": [s for s in _SENTENCE_END.split(text) if s] if text else []}


async def count_words(state: Document) -> Document:
    await _pause(state)
    counts = Counter(_WORD.findall(state["normalized"].lower()))
    return {"word_counts": dict(counts.most_common())}


async def extract_keywords(state: Document) -> Document:
    await _pause(state)
    ranked = [w for w, _ in Counter(state["word_counts"]).most_common() if w not in STOPWORDS]
    return {"keywords": [w for w in ranked if len(w) > 2][:5]}


async def summarize(state: Document) -> Document:
    await _pause(state)
    keywords = set(state["keywords"])
    scored = [
        (sum(w in keywords for w in _WORD.findall(s.lower())), -i, s)
        for i, s in enumerate(state["sentences"])
    ]
    best = sorted(scored, reverse=True)[:2]
    return {"summary": " ".join(s for _, _, s in sorted(best, key=lambda t: -t[1]))}


async def report(state: Document) -> Document:
    await _pause(state)
    words = sum(state["word_counts"].values())
    return {
        "report": {
            "characters": len(state["normalized"]),
            "sentences": len(state["sentences"]),
            "words": words,
            "unique_words": len(state["word_counts"]),
            "reading_time_s": round(words / 4.0, 1),  # about 240 words a minute
        }
    }


STEPS = [normalize, split_sentences, count_words, extract_keywords, summarize, report]

graph: StateGraph[Document] = StateGraph(Document)
for step in STEPS:
    graph.add_node(step.__name__, step)
graph.add_edge(START, STEPS[0].__name__)
for before, after in itertools.pairwise(STEPS):
    graph.add_edge(before.__name__, after.__name__)
graph.add_edge(STEPS[-1].__name__, END)
