"""Providers come from settings: a provider named without its key is a configuration error
naming the variable, never a silent switch to the offline provider; keys stay secret."""

from __future__ import annotations

import pytest

from outlast.errors import ModelConfigError
from outlast.models import ModelRef, available, chain, provider
from outlast.settings import Settings

CANARY = "sk-canary-config-0b1d"


@pytest.fixture(autouse=True)
def _no_keys_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("spec", "variable"),
    [("anthropic:claude-sonnet-4-5", "ANTHROPIC_API_KEY"), ("openai:gpt-4o", "OPENAI_API_KEY")],
)
def test_a_named_provider_without_its_key_is_an_error_naming_the_setting(
    spec: str, variable: str
) -> None:
    with pytest.raises(ModelConfigError) as caught:
        chain(spec, Settings())
    assert variable in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_a_chain_fails_whole_when_one_link_lacks_its_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", CANARY)
    with pytest.raises(ModelConfigError, match="OPENAI_API_KEY"):
        chain("anthropic:claude-sonnet-4-5,openai:gpt-4o", Settings())


def test_providers_are_discovered_from_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    assert available(Settings()) == ["offline"]
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    assert available(Settings()) == ["openai", "offline"]


def test_a_chain_from_specs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", CANARY)
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OUTLAST_MODEL_ATTEMPTS", "2")
    models = chain(" anthropic:claude-a , openai:gpt-b,offline ", Settings())
    assert [str(link.ref) for link in models.links] == [
        "anthropic:claude-a",
        "openai:gpt-b",
        "offline:offline",
    ]
    assert models.retry.attempts == 2
    assert CANARY not in repr(models) and "127.0.0.1:9" in repr(models.links[1].provider)


@pytest.mark.parametrize("spec", ["claude-sonnet-4-5", "anthropic:", ":gpt-4o", ""])
def test_a_spec_must_be_provider_colon_model(spec: str) -> None:
    with pytest.raises(ModelConfigError):
        chain(spec, Settings())


def test_an_unknown_provider_is_refused() -> None:
    with pytest.raises(ModelConfigError, match="unknown model provider 'mistral'"):
        provider("mistral", Settings())


def test_offline_needs_no_key() -> None:
    assert ModelRef.parse("offline") == ModelRef("offline", "offline")
    assert chain("offline", Settings()).links[0].provider.name == "offline"


def test_keys_are_secret_in_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", CANARY)
    settings = Settings()
    assert CANARY not in repr(settings) and CANARY not in str(settings.model_dump())
    assert settings.anthropic_api_key is not None
    assert settings.anthropic_api_key.get_secret_value() == CANARY
