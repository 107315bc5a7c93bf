"""The worker's LLM-call journal: `outlast.models.Journal` over db/llm_call.py, one per claim.

Built with the task id and the lease epoch the claim holds, so every row it writes is fenced by
that lease; put in the run's config by the executor, where `outlast.models.call_model` finds it.
Each begin and finish is its own short statement on the pool: no transaction is open while the
model is called. Costs are priced here (outlast.models.prices) and stored as integer micro-USD.
"""

from __future__ import annotations

import uuid

from db import llm_call
from db.connect import Db
from outlast.models.journal import JournalEntry
from outlast.models.messages import ModelRequest, ModelResponse
from outlast.models.prices import PriceBook


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
    ) -> None:
        self.pool = pool
        self.task_id = task_id
        self.epoch = epoch
        self.prices = prices
        self.replay = replay

    async def begin(self, step_key: str, seq: int, request: ModelRequest) -> JournalEntry:
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
                return JournalEntry(reused.call_id, ModelResponse.model_validate(reused.response))
        begun = await llm_call.begin(
            self.pool,
            self.task_id,
            self.epoch,
            llm_call.Key(step_key, seq),
            request.digest(),
            request.model_dump(mode="json"),
        )
        if begun.outcome == "reused":
            return JournalEntry(begun.call_id, ModelResponse.model_validate(begun.response))
        return JournalEntry(begun.call_id)

    async def finish(
        self, entry: JournalEntry, response: ModelResponse | None, error: BaseException | None
    ) -> None:
        end = _failed(error) if response is None else self._completed(response)
        await llm_call.finish(self.pool, self.task_id, self.epoch, entry.call_id, end)

    def _completed(self, response: ModelResponse) -> llm_call.Finished:
        cost = self.prices.cost(response.usage, response.provider, response.model)
        return llm_call.Finished(
            status="completed",
            response=response.model_dump(mode="json"),
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
