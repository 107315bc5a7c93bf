"""The worker's LLM-call journal: `outlast.models.Journal` over db/llm_call.py, one per claim.

Built with the task id and the lease epoch the claim holds, so every row it writes is fenced by
that lease; put in the run's config by the executor, where `outlast.models.call_model` finds it.
Each begin and finish is its own short statement on the pool: no transaction is open while the
model is called (but finish and the budget's settlement share one). Before a call its worst
case is reserved against the task's budgets (db/budget.py); a call that does not fit raises
BudgetPaused, the task already paused. Costs are priced here (outlast.models.prices) and stored
as integer micro-USD.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from db import budget, llm_call
from db.connect import Db, transaction
from outlast.models.journal import JournalEntry
from outlast.models.messages import ModelRequest, ModelResponse
from outlast.models.prices import PriceBook
from outlast.models.provider import ModelRef


class PgJournal:
    def __init__(self, pool: Db, task_id: uuid.UUID, epoch: int, prices: PriceBook) -> None:
        self.pool = pool
        self.task_id = task_id
        self.epoch = epoch
        self.prices = prices

    async def begin(
        self, step_key: str, seq: int, request: ModelRequest, models: Sequence[ModelRef] = ()
    ) -> JournalEntry:
        worst = self.prices.worst_case(request, models)
        held = await budget.reserve(self.pool, self.task_id, self.epoch, worst)
        begun = await llm_call.begin(
            self.pool,
            self.task_id,
            self.epoch,
            llm_call.Key(step_key, seq),
            request.digest(),
            request.model_dump(mode="json"),
        )
        if begun.outcome == "reused":
            if held.reservation_id is not None:  # nothing will be called: give it back
                async with transaction(self.pool) as conn:
                    await budget.settle(conn, self.task_id, held.reservation_id, 0)
            return JournalEntry(begun.call_id, ModelResponse.model_validate(begun.response))
        return JournalEntry(begun.call_id, reservation_id=held.reservation_id)

    async def finish(
        self, entry: JournalEntry, response: ModelResponse | None, error: BaseException | None
    ) -> None:
        end = _failed(error) if response is None else self._completed(response)
        if entry.reservation_id is None:
            await llm_call.finish(self.pool, self.task_id, self.epoch, entry.call_id, end)
            return
        # The journal row and the settled spend commit together: a lost lease (LeaseLost from
        # finish) rolls both back and leaves the reservation to the reaper (budget_expire).
        async with transaction(self.pool) as conn:
            await llm_call.finish(conn, self.task_id, self.epoch, entry.call_id, end)
            await budget.settle(conn, self.task_id, entry.reservation_id, end.cost_micro_usd or 0)

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
