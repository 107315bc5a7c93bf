"""The worker's LLM-call journal: `outlast.models.Journal` over db/llm_call.py, one per claim.

Built with the task id and the lease epoch the claim holds, so every row it writes is fenced by
that lease; put in the run's config by the executor, where `outlast.models.call_model` finds it.
Each begin and finish is its own short statement on the pool: no transaction is open while the
model is called (but finish and the budget's settlement share one). Before a call its worst
case is reserved against the task's budgets (db/budget.py); a call that does not fit raises
BudgetPaused, the task already paused. Costs are priced here (outlast.models.prices) and stored
as integer micro-USD. Before the budget, the call takes its estimated tokens and one request
from its provider's rate-limit bucket (worker/ratelimits.py, ADR 0016), and gives back what it
did not use after.

Transcripts (ADR 0012): a request's messages and tools are not stored whole in its row. Each
message is a transcript node in canonical JSON, and the row holds the two lists' head digests
(`stored_request`); a message's text of `INTERN_MIN` characters or more, and a response's, is a
text node, the same one the checkpointer stores for that text, and a marker stands in its place.
The journal remembers the nodes it has stored under this claim and sends only new ones, so a call
adds the bytes of its new messages, not of the whole conversation. `request_of` rebuilds a
request from its row; its digest is the row's.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from db import budget, llm_call, transcripts
from db.connect import Db, transaction
from db.errors import UnpricedModel
from db.transcripts import TEXT, Node
from outlast import traces
from outlast.models.journal import JournalEntry
from outlast.models.messages import ModelRequest, ModelResponse
from outlast.models.prices import PriceBook
from outlast.models.provider import ModelRef
from worker import tokens
from worker.ratelimits import Held, RateLimiter
from worker.tokens import TokenWriter

# The parts of a request stored as transcript lists, and the encoding label of their nodes.
PARTS = ("messages", "tools")
ENCODINGS = {"messages": "json-message", "tools": "json-tool"}
New = list[tuple[Node, str]]


class PgJournal:
    """With `replay` (a task replaying another from its N-th call), a call numbered below N
    takes the original's recorded response before anything else (db llm_call_replay)."""

    def __init__(
        self,
        pool: Db,
        task_id: uuid.UUID,
        epoch: int,
        prices: PriceBook,
        replay: llm_call.ReplaySource | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.pool = pool
        self.task_id = task_id
        self.epoch = epoch
        self.prices = prices
        self.replay = replay
        self.limiter = limiter
        self._stored: set[bytes] = set()  # transcript nodes this claim has stored
        self._rate: dict[int, Held] = {}  # rate-limit holds of calls begun, by call id

    def tokens(self, entry: JournalEntry) -> AbstractAsyncContextManager[TokenWriter]:
        """Where a started call's streamed text goes as it arrives (worker/tokens.py)."""
        return tokens.writer(self.pool, self.task_id, entry.call_id)

    @property
    def gate(self) -> RateLimiter | None:
        """The rate limits of every attempt after a call's first (outlast.models.call_model)."""
        return self.limiter

    async def begin(
        self, step_key: str, seq: int, request: ModelRequest, models: Sequence[ModelRef] = ()
    ) -> JournalEntry:
        if self.replay is not None:
            reused = await llm_call.replay(
                self.pool,
                self.task_id,
                self.epoch,
                llm_call.Key(step_key, seq),
                request.digest(),
                request.model_dump(mode="json"),
                self.replay,
            )
            if reused is not None:
                # The original's response, its long texts resolved (same tenant, same store).
                (recorded,) = await llm_call.resolve_texts(
                    self.pool, self.task_id, [reused.response]
                )
                return JournalEntry(reused.call_id, ModelResponse.model_validate(recorded))
        # A model without a known price cannot be bounded by a budget: refused, naming it,
        # when one applies (ADR 0023), before anything is taken.
        unpriced = self.prices.unpriced(models)
        if unpriced and await budget.applies(self.pool, self.task_id):
            raise UnpricedModel(self.task_id, [f"{m.provider}:{m.model}" for m in unpriced])
        # The provider rate limit first (it may sleep, or give the task back: no budget is
        # held meanwhile), then the budget; what the rate limit took is given back when no
        # call follows.
        rate = None
        if self.limiter is not None and models:
            rate = await self.limiter.acquire(models[0], request)
        worst = self.prices.worst_case(request, models)
        try:
            held = await budget.reserve(self.pool, self.task_id, self.epoch, worst)
        except BaseException:
            if rate is not None and self.limiter is not None:
                await self.limiter.unused(rate)
            raise
        dumped = request.model_dump(mode="json")
        new: New = []
        dumped["messages"] = [self._intern(m, new) for m in dumped["messages"]]
        lists = {part: _chain(dumped[part], part) for part in PARTS}
        new += [(n, ENCODINGS[p]) for p, nodes in lists.items() for n in nodes]
        new = self._unstored(new)
        begun = await llm_call.begin(
            self.pool,
            self.task_id,
            self.epoch,
            llm_call.Key(step_key, seq),
            request.digest(),
            stored_request(dumped, lists),
            new,
        )
        if begun.outcome == "reused":
            if rate is not None and self.limiter is not None:
                await self.limiter.unused(rate)
            if held.reservation_id is not None:  # nothing will be called: give it back
                async with transaction(self.pool) as conn:
                    await budget.settle(conn, self.task_id, held.reservation_id, 0)
            recorded = await llm_call.resolve_texts(self.pool, self.task_id, [begun.response])
            return JournalEntry(begun.call_id, ModelResponse.model_validate(recorded[0]))
        self._stored.update(node.digest for node, _ in new)
        if rate is not None:
            self._rate[begun.call_id] = rate
        return JournalEntry(begun.call_id, reservation_id=held.reservation_id)

    async def finish(
        self, entry: JournalEntry, response: ModelResponse | None, error: BaseException | None
    ) -> None:
        new: New = []
        end = _failed(error) if response is None else self._completed(response, new)
        new = self._unstored(new)
        if entry.reservation_id is None:
            await llm_call.finish(self.pool, self.task_id, self.epoch, entry.call_id, end, new)
        else:
            # The journal row and the settled spend commit together: a lost lease (LeaseLost
            # from finish) rolls both back and leaves the reservation to the reaper.
            async with transaction(self.pool) as conn:
                await llm_call.finish(conn, self.task_id, self.epoch, entry.call_id, end, new)
                await budget.settle(
                    conn, self.task_id, entry.reservation_id, end.cost_micro_usd or 0
                )
        self._stored.update(node.digest for node, _ in new)
        rate = self._rate.pop(entry.call_id, None)
        if rate is not None and self.limiter is not None:
            await self.limiter.settle(rate, response, error)

    def _intern(self, item: dict[str, Any], new: New) -> dict[str, Any]:
        """`item` (a message or a response, as JSON) with a long text replaced by its marker;
        the text's node appended to `new`."""
        content = item.get("content")
        if not isinstance(content, str) or not transcripts.interned(content):
            return item
        node = transcripts.text_node(content)
        new.append((node, TEXT))
        return {**item, "content": transcripts.mark(node)}

    def _unstored(self, new: New) -> New:
        seen: set[bytes] = set()
        kept = []
        for node, encoding in new:
            if node.digest not in self._stored and node.digest not in seen:
                seen.add(node.digest)
                kept.append((node, encoding))
        return kept

    def _completed(self, response: ModelResponse, new: New) -> llm_call.Finished:
        cost = self.prices.cost(response.usage, response.provider, response.model)
        traces.add_cost(cost.micro_usd)  # on the call's span (outlast.models.spans)
        return llm_call.Finished(
            status="completed",
            response=self._intern(response.model_dump(mode="json"), new),
            provider=response.provider,
            model=response.model,
            usage=response.usage.model_dump(),
            cost_micro_usd=cost.micro_usd,
            price=cost.price,
            price_source=cost.source or cost.reason,
            latency_ms=response.latency_ms,
        )


def _failed(error: BaseException | None) -> llm_call.Finished:
    return llm_call.Finished(
        status="failed",
        error=repr(error),
        provider=getattr(error, "provider", None),
        model=getattr(error, "model", None),
    )


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _chain(elements: list[Any], part: str) -> list[Node]:
    return transcripts.chain([_canonical(e) for e in elements], ENCODINGS[part])


def stored_request(dumped: dict[str, Any], lists: dict[str, list[Node]]) -> dict[str, Any]:
    """The request as its row holds it: each part a list reference `{"head", "count"}` (head
    null for an empty list), the rest (params) as is."""
    refs = {
        part: {"head": nodes[-1].digest.hex() if nodes else None, "count": len(nodes)}
        for part, nodes in lists.items()
    }
    return {**dumped, **refs}


async def request_of(db: Db, task_id: uuid.UUID, stored: dict[str, Any]) -> ModelRequest:
    """The request a journal row's `request` names, read back from the task's transcripts (a
    row written before transcripts holds the whole request)."""
    if isinstance(stored.get("messages"), list):
        return ModelRequest.model_validate(stored)
    heads = {part: stored[part]["head"] for part in PARTS if stored[part]["head"]}
    lists = await transcripts.read(db, task_id, [bytes.fromhex(h) for h in heads.values()])
    parts = {part: [json.loads(e) for e in lists[bytes.fromhex(h)][1]] for part, h in heads.items()}
    parts["messages"] = await llm_call.resolve_texts(db, task_id, parts.get("messages", []))
    return ModelRequest.model_validate({**stored, "tools": [], **parts})
