"""Cost per call in integer micro-USD, with the price and its source; the override file wins
over genai-prices; an unknown model costs None with a reason."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from outlast.errors import ModelConfigError
from outlast.models import PriceBook, Usage

USAGE = Usage(input_tokens=1_000, output_tokens=500, cache_read_tokens=200, cache_write_tokens=100)


def test_the_package_prices_a_known_model_in_integer_micro_usd() -> None:
    cost = PriceBook().cost(USAGE, "anthropic", "claude-sonnet-4-5")
    assert isinstance(cost.micro_usd, int) and cost.micro_usd > 0
    assert cost.source is not None and cost.source.startswith("genai-prices ")
    assert cost.price is not None and set(cost.price) >= {"input", "output"}
    assert cost.reason is None
    # Re-derived from the recorded base prices (this usage is far below any tier):
    price = {unit: Decimal(value) for unit, value in cost.price.items()}
    expected = (
        700 * price["input"]
        + 500 * price["output"]
        + 200 * price["cache_read"]
        + 100 * price["cache_write"]
    )
    assert cost.micro_usd == int(expected.to_integral_value())


def test_an_unknown_model_costs_none_with_a_reason() -> None:
    cost = PriceBook().cost(USAGE, "openai", "no-such-model-anywhere")
    assert cost.micro_usd is None and cost.price is None
    assert cost.reason is not None and "no-such-model-anywhere" in cost.reason


def test_the_offline_provider_is_free() -> None:
    assert PriceBook().cost(USAGE, "offline", "offline").micro_usd == 0


def test_an_override_wins_over_the_package(tmp_path: Path) -> None:
    file = tmp_path / "prices.json"
    file.write_text(
        '{"anthropic": {"claude-sonnet-4-5": {"input": 1, "output": 2.5,'
        ' "cache_read": 0.1, "cache_write": 1.25}}}'
    )
    cost = PriceBook(file).cost(USAGE, "anthropic", "claude-sonnet-4-5")
    # 700 uncached x 1 + 500 x 2.5 + 200 x 0.1 + 100 x 1.25 = 700 + 1250 + 20 + 125
    assert cost.micro_usd == 2095
    assert cost.price == {"input": "1", "output": "2.5", "cache_read": "0.1", "cache_write": "1.25"}
    assert cost.source == f"override {file}"


def test_a_toml_override_prices_a_model_the_package_does_not_know(tmp_path: Path) -> None:
    file = tmp_path / "prices.toml"
    file.write_text('[openai."my-local-llama"]\ninput = 0.3\noutput = 0.6\n')
    cost = PriceBook(file).cost(Usage(input_tokens=10, output_tokens=1), "openai", "my-local-llama")
    assert cost.micro_usd == 4  # 10 x 0.3 + 1 x 0.6 = 3.6, rounded half up
    assert cost.price is not None and cost.price["cache_read"] == "0.3"  # defaults to input


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        '{"openai": {"m": {"input": 1}}}',
        '{"openai": {"m": {"input": 1, "output": -2}}}',
        '{"openai": {"m": {"input": 1, "output": 2, "reasoning": 3}}}',
        '{"openai": {"m": {"input": true, "output": 2}}}',
        '{"openai": ["m"]}',
    ],
)
def test_a_bad_override_file_names_itself(tmp_path: Path, text: str) -> None:
    file = tmp_path / "prices.json"
    file.write_text(text)
    with pytest.raises(ModelConfigError) as caught:
        PriceBook(file)
    assert "OUTLAST_MODEL_PRICES_FILE" in str(caught.value) and str(file) in str(caught.value)


def test_a_missing_override_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ModelConfigError):
        PriceBook(tmp_path / "absent.json")
