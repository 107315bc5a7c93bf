"""The one seam between Outlast and a model vendor.

A provider turns a `ModelRequest` into one HTTP call through the vendor's official SDK and the
answer into a `ModelResponse`. It makes exactly one attempt (the SDK's own retries are off):
retries, failover and, later, the journal and accounting live once, above every provider
(retry.py, failover.py). It raises only the model errors of the tree in db/errors.py:
`ModelUnavailable` for what may pass (429, 5xx, 529, timeouts, dropped connections; with the
provider's `Retry-After` when it gave one), `ModelRejected` for what will not (400, 401, 403,
404, 422). An error's message never holds the API key.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from outlast.errors import ModelConfigError
from outlast.models.messages import ModelRequest, ModelResponse

# Called with each text delta as it arrives, when the caller wants a token stream.
OnText = Callable[[str], Awaitable[None]]


class Provider(Protocol):
    """One vendor's API. `name` is what responses are labelled with ("anthropic", ...)."""

    @property
    def name(self) -> str: ...

    async def complete(
        self,
        model: str,
        request: ModelRequest,
        *,
        timeout_s: float,
        on_text: OnText | None = None,
    ) -> ModelResponse:
        """One attempt, at most `timeout_s` long. With `on_text`, the provider streams and
        awaits `on_text(delta)` for every text delta; it returns the full response either way."""
        ...

    async def aclose(self) -> None:
        """Close the SDK client's connections."""
        ...


@dataclass(frozen=True)
class ModelRef:
    """A (provider, model) pair, written `provider:model` ("anthropic:claude-sonnet-4-5")."""

    provider: str
    model: str

    @classmethod
    def parse(cls, spec: str) -> ModelRef:
        provider, sep, model = spec.strip().partition(":")
        if provider == "offline" and not model:
            return cls("offline", "offline")
        if not sep or not provider or not model:
            raise ModelConfigError(
                f"model {spec!r} is not `provider:model` (e.g. anthropic:claude-sonnet-4-5)"
            )
        return cls(provider, model)

    def __str__(self) -> str:
        return f"{self.provider}:{self.model}"
