"""From settings to providers and chains: `chain(["anthropic:claude-sonnet-4-5",
"openai:gpt-4o"], settings)`, in the spirit of LangChain's `init_chat_model("provider:model")`.

A provider is available when its key is set (`ANTHROPIC_API_KEY`, `OPENAI_API_KEY`); `offline`
always is. Naming a provider whose key is missing is a `ModelConfigError` naming the variable:
the offline provider is never put in its place.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from pydantic import SecretStr

from outlast.errors import ModelConfigError
from outlast.models.failover import Link, ModelChain
from outlast.models.offline import OfflineProvider
from outlast.models.provider import PROVIDERS, ModelRef, Provider
from outlast.models.retry import RetryPolicy
from outlast.settings import Settings, load


def available(settings: Settings) -> list[str]:
    """The providers that can be used with these settings, in the order listed above."""
    keys = {"anthropic": settings.anthropic_api_key, "openai": settings.openai_api_key}
    return [name for name in PROVIDERS if name == "offline" or keys.get(name)]


# The module a provider's SDK is loaded by (see `provider`).
SDK_MODULES = {"anthropic": "outlast.models.anthropic", "openai": "outlast.models.openai"}


def warm_up(settings: Settings) -> list[str]:
    """Import what a first model call with these settings would import: the SDKs of the
    providers whose keys are set, and the price table. Blocking (the SDKs take a second or two
    to import): a worker runs it in a thread at start, so that its first model call does not
    stop its event loop, and with it its heartbeats, while it loads. Nothing without a key."""
    names = [SDK_MODULES[p] for p in available(settings) if p in SDK_MODULES]
    if names:
        names.append("genai_prices")
    for name in names:
        importlib.import_module(name)
    return names


def _key(value: SecretStr | None, variable: str, provider: str) -> SecretStr:
    if value is None or not value.get_secret_value():
        raise ModelConfigError(
            f"the {provider} provider needs {variable}, which is not set", provider=provider
        )
    return value


def provider(name: str, settings: Settings) -> Provider:
    """A new provider by name; its SDK client holds a connection pool, so share it. A vendor's
    SDK is imported here, when first used: a worker whose graphs call no model (and the API)
    does not carry it (about 55 MiB of the worker's RSS)."""
    if name == "anthropic":
        from outlast.models.anthropic import AnthropicProvider

        key = _key(settings.anthropic_api_key, "ANTHROPIC_API_KEY", name)
        return AnthropicProvider(key, base_url=settings.anthropic_base_url)
    if name == "openai":
        from outlast.models.openai import OpenAIProvider

        key = _key(settings.openai_api_key, "OPENAI_API_KEY", name)
        return OpenAIProvider(key, base_url=settings.openai_base_url)
    if name == "offline":
        return OfflineProvider()
    raise ModelConfigError(
        f"unknown model provider {name!r}; known: {', '.join(PROVIDERS)}", provider=name
    )


def chain(specs: str | Sequence[str], settings: Settings | None = None) -> ModelChain:
    """A failover chain from `provider:model` specs (a comma-separated string or a list),
    tried in order; every provider named must be configured, or this raises at once.
    Settings default to the environment's."""
    settings = settings or load()
    if isinstance(specs, str):
        specs = [spec for spec in specs.split(",") if spec.strip()]
    refs = [ModelRef.parse(spec) for spec in specs]
    if not refs:
        raise ModelConfigError("no model named; write `provider:model`")
    shared: dict[str, Provider] = {}
    for ref in refs:
        if ref.provider not in shared:
            shared[ref.provider] = provider(ref.provider, settings)
    links = [Link(shared[ref.provider], ref.model) for ref in refs]
    policy = RetryPolicy(
        attempts=settings.model_attempts, retry_after_max_s=settings.model_retry_after_max_s
    )
    return ModelChain(links, retry=policy, timeout_s=settings.model_timeout_s)
