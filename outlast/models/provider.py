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

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from pydantic import SecretStr

from outlast.errors import ModelConfigError, ModelError
from outlast.models.messages import ModelRequest, ModelResponse

# Every provider Outlast ships, in the order `available` lists them (discovery.py builds them).
PROVIDERS = ("anthropic", "openai", "offline")

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


Client = TypeVar("Client")


class SdkProvider(Generic[Client]):
    """What every provider over an official SDK shares: the client (its own retries off), one
    attempt cut off at `timeout_s`, the latency, and every error that is not already a model error
    turned into one by the vendor's `_failure`. A vendor supplies `_client_for`, `_call` (one
    request, streamed when `on_text` is given) and `_failure`."""

    name: str

    def __init__(self, api_key: SecretStr, *, base_url: str | None = None) -> None:
        self._key = api_key
        self._base_url = base_url
        self._client = self._client_for(api_key.get_secret_value(), base_url)

    def __repr__(self) -> str:  # never the key
        return f"{type(self).__name__}(base_url={self._base_url!r})"

    async def aclose(self) -> None:
        await self._client.close()  # type: ignore[attr-defined]

    async def complete(
        self,
        model: str,
        request: ModelRequest,
        *,
        timeout_s: float,
        on_text: OnText | None = None,
    ) -> ModelResponse:
        started = time.monotonic()
        try:
            async with asyncio.timeout(timeout_s):
                built = await self._call(model, request, timeout_s, on_text)
        except ModelError:
            raise
        except Exception as exc:
            raise self._failure(exc, model, timeout_s) from None
        latency_ms = round((time.monotonic() - started) * 1000)
        return built.model_copy(update={"latency_ms": latency_ms})

    def _client_for(self, api_key: str, base_url: str | None) -> Client:
        raise NotImplementedError

    async def _call(
        self, model: str, request: ModelRequest, timeout_s: float, on_text: OnText | None
    ) -> ModelResponse:
        raise NotImplementedError

    def _failure(self, exc: Exception, model: str, timeout_s: float) -> Exception:
        raise NotImplementedError


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
