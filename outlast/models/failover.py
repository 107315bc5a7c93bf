"""A failover chain: (provider, model) pairs tried in order.

Each link gets its retries (retry.py). When a link still fails with a retryable error
(`ModelUnavailable`), the next link is tried; a `ModelRejected` (the request's own fault) is
raised at once, since another model would most likely refuse it too and failing over would hide
a bug. The response names the link that served it (`provider`, `model`). A chain of one link is
a plain model with retries.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from outlast.errors import ModelUnavailable
from outlast.models.messages import ModelRequest, ModelResponse
from outlast.models.provider import ModelRef, OnText, Provider
from outlast.models.retry import RetryPolicy, with_retries

log = logging.getLogger("outlast.models")


@dataclass(frozen=True)
class StreamDelta:
    """A piece of streamed text. `attempt` counts every try of the call, across retries and
    failover: when it changes, the text starts again (from `provider`/`model`)."""

    text: str
    attempt: int
    provider: str
    model: str


OnDelta = Callable[[StreamDelta], Awaitable[None]]


class AttemptGate(Protocol):
    """Rate limits per attempt (the worker's, ADR 0016). The first attempt of a call took its
    turn before the call was journaled; `before` takes the turn of every later one (a retry,
    the next link), waiting for it; `after` ends each attempt (what it did not use back, a
    429's Retry-After drained)."""

    async def before(self, ref: ModelRef, request: ModelRequest) -> object: ...

    async def after(
        self,
        ref: ModelRef,
        held: object,
        response: ModelResponse | None,
        error: BaseException | None,
    ) -> None: ...


@dataclass(frozen=True)
class Link:
    provider: Provider
    model: str

    @property
    def ref(self) -> ModelRef:
        return ModelRef(self.provider.name, self.model)


class ModelChain:
    """The object callers use: `await chain.complete(request)`. Build one and reuse it (its
    providers hold connection pools); `await chain.aclose()` when done."""

    def __init__(
        self,
        links: Sequence[Link],
        *,
        retry: RetryPolicy | None = None,
        timeout_s: float = 60.0,
    ) -> None:
        if not links:
            raise ValueError("a model chain needs at least one (provider, model)")
        self.links = tuple(links)
        self.retry = retry or RetryPolicy()
        self.timeout_s = timeout_s

    def __repr__(self) -> str:
        return f"ModelChain([{', '.join(str(link.ref) for link in self.links)}])"

    async def complete(
        self,
        request: ModelRequest,
        *,
        on_text: OnDelta | None = None,
        timeout_s: float | None = None,
        gate: AttemptGate | None = None,
    ) -> ModelResponse:
        """The first successful response along the chain. Each attempt lasts at most
        `timeout_s` (default: the chain's). Raises `ModelRejected` at once, or
        `ModelUnavailable` naming every link's last error when all of them failed."""
        attempts = itertools.count(1)
        failures: list[ModelUnavailable] = []
        for link in self.links:
            try:
                return await self._try(
                    link, request, on_text, timeout_s or self.timeout_s, attempts, gate
                )
            except ModelUnavailable as exc:
                failures.append(exc)
                log.warning("model %s unavailable, failing over: %s", link.ref, exc)
        raise _exhausted(failures)

    async def _try(
        self,
        link: Link,
        request: ModelRequest,
        on_text: OnDelta | None,
        timeout_s: float,
        attempts: itertools.count[int],
        gate: AttemptGate | None = None,
    ) -> ModelResponse:
        async def attempt() -> ModelResponse:
            number = next(attempts)
            sink = _sink(on_text, number, link)
            if gate is None:
                return await link.provider.complete(
                    link.model, request, timeout_s=timeout_s, on_text=sink
                )
            held = await gate.before(link.ref, request) if number > 1 else None
            try:
                response = await link.provider.complete(
                    link.model, request, timeout_s=timeout_s, on_text=sink
                )
            except Exception as exc:
                await gate.after(link.ref, held, None, exc)
                raise
            await gate.after(link.ref, held, response, None)
            return response

        return await with_retries(attempt, self.retry)

    async def aclose(self) -> None:
        for link in self.links:
            await link.provider.aclose()


def _sink(on_text: OnDelta | None, attempt: int, link: Link) -> OnText | None:
    if on_text is None:
        return None

    async def sink(text: str) -> None:
        await on_text(StreamDelta(text, attempt, link.provider.name, link.model))

    return sink


def _exhausted(failures: list[ModelUnavailable]) -> ModelUnavailable:
    last = failures[-1]
    if len(failures) == 1:
        return last
    summary = "; ".join(str(f) for f in failures)
    return ModelUnavailable(
        f"every model in the chain failed: {summary}",
        provider=last.provider,
        model=last.model,
        status=last.status,
    )
