"""What a model call cost, in integer micro-USD, with the price used and where it came from.

Prices come from a user override file when it lists the model (`OUTLAST_MODEL_PRICES_FILE`),
else from the `genai-prices` package. Arithmetic is Decimal; the result is an int (a price in USD
per million tokens is exactly micro-USD per token), rounded half up once, at the end. A model
neither source knows costs `None`, with the reason, never an exception: accounting must not
break a call that already happened. The offline provider is free.

The override file, JSON or TOML, prices per provider and model in USD per million tokens;
`cache_read` and `cache_write` default to the `input` price:

    [anthropic."claude-sonnet-4-5"]
    input = 3
    output = 15
    cache_read = 0.3
    cache_write = 3.75
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from importlib.metadata import version
from pathlib import Path
from typing import Any

from outlast.errors import ModelConfigError
from outlast.models.messages import ModelRequest, Usage
from outlast.models.provider import ModelRef

UNITS = ("input", "output", "cache_read", "cache_write")


@dataclass(frozen=True)
class Price:
    """USD per million tokens (= micro-USD per token)."""

    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal

    def as_json(self) -> dict[str, str]:
        return {unit: str(getattr(self, unit)) for unit in UNITS}

    def micro_usd(self, usage: Usage) -> int:
        uncached = max(0, usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens)
        total = (
            uncached * self.input
            + usage.output_tokens * self.output
            + usage.cache_read_tokens * self.cache_read
            + usage.cache_write_tokens * self.cache_write
        )
        return _round(total)


@dataclass(frozen=True)
class Cost:
    """`micro_usd` is None when no price is known; `reason` then says why. `price` (per
    million tokens, as decimal strings) and `source` say how a cost was derived."""

    micro_usd: int | None
    price: dict[str, str] | None
    source: str | None
    reason: str | None = None


def _round(usd_or_micro: Decimal) -> int:
    return int(usd_or_micro.quantize(Decimal(1), rounding=ROUND_HALF_UP))


class PriceBook:
    """Prices for every model call; load once (the override file is read at construction)."""

    def __init__(self, overrides_file: Path | None = None) -> None:
        self.overrides_file = overrides_file
        self.overrides = load_overrides(overrides_file) if overrides_file else {}

    def cost(self, usage: Usage, provider: str, model: str) -> Cost:
        if provider == "offline":
            return Cost(0, {unit: "0" for unit in UNITS}, "offline provider (free)")
        override = self.overrides.get((provider, model))
        if override is not None:
            return Cost(
                override.micro_usd(usage), override.as_json(), f"override {self.overrides_file}"
            )
        return _from_package(usage, provider, model)

    def worst_case(self, request: ModelRequest, models: Sequence[ModelRef]) -> int:
        """What the request can cost at most, in micro-USD, on the dearest of `models` (the
        chain's, in failover order): its estimated prompt tokens at the input price plus its
        `max_tokens` at the output price. A budget reserves this before the call. A model
        without a known price counts 0 here (its calls show as unpriced); a task with a budget
        may not call one at all (`unpriced`)."""
        usage = Usage(
            input_tokens=estimated_prompt_tokens(request),
            output_tokens=request.params.max_tokens,
        )
        costs = (self.cost(usage, ref.provider, ref.model).micro_usd for ref in models)
        return max((cost for cost in costs if cost is not None), default=0)

    def unpriced(self, models: Sequence[ModelRef]) -> list[ModelRef]:
        """The models of a chain whose price is not known: a budget cannot bound their calls
        (the journal refuses them to a task with a budget, ADR 0023)."""
        probe = Usage(input_tokens=1, output_tokens=1)
        return [
            ref for ref in models if self.cost(probe, ref.provider, ref.model).micro_usd is None
        ]


def estimated_prompt_tokens(request: ModelRequest) -> int:
    """An estimate of the prompt's tokens that errs high: one per 3 bytes of the messages and
    tools as JSON (tokenizers average about 4 characters of English per token, and the JSON's
    keys and quotes are counted too), plus a few for the request's framing."""
    payload = request.model_dump(mode="json", include={"messages", "tools"})
    return len(json.dumps(payload, ensure_ascii=False).encode()) // 3 + 16


def _from_package(usage: Usage, provider: str, model: str) -> Cost:
    import genai_prices  # loaded when a price is first looked up there (it is large)

    counted = genai_prices.Usage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
    )
    try:
        calc = genai_prices.calc_price(counted, model, provider_id=provider)
    except LookupError as exc:
        return Cost(None, None, None, f"no price known: {exc}")
    except (
        Exception
    ) as exc:  # the package's data may not fit our usage; a cost is not worth a crash
        return Cost(None, None, None, f"genai-prices failed: {type(exc).__name__}: {exc}")
    package = f"genai-prices {version('genai-prices')} ({calc.provider.id}/{calc.model.id})"
    return Cost(_round(calc.total_price * 1_000_000), _package_price(calc.model_price), package)


def _package_price(model_price: Any) -> dict[str, str]:
    """The base per-million prices the package used (tiered prices give their first tier)."""
    found = {}
    for unit in UNITS:
        value = getattr(model_price, f"{unit}_mtok", None)
        value = getattr(value, "base", value)
        if value is not None:
            found[unit] = str(value)
    return found


def load_overrides(path: Path) -> dict[tuple[str, str], Price]:
    """{(provider, model): Price} from a JSON or TOML file (by its suffix; JSON otherwise)."""
    try:
        text = path.read_text()
        if path.suffix == ".toml":
            data = tomllib.loads(text, parse_float=Decimal)
        else:
            data = json.loads(text, parse_float=Decimal)
    except (OSError, ValueError) as exc:
        raise ModelConfigError(f"OUTLAST_MODEL_PRICES_FILE {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ModelConfigError(f"OUTLAST_MODEL_PRICES_FILE {path}: not a table of providers")
    return {
        (provider, model): _price(entry, f"{path}: {provider}.{model}")
        for provider, models in data.items()
        for model, entry in _table(models, f"{path}: {provider}").items()
    }


def _table(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ModelConfigError(f"OUTLAST_MODEL_PRICES_FILE {where}: expected a table")
    return value


def _price(entry: object, where: str) -> Price:
    table = _table(entry, where)
    unknown = set(table) - set(UNITS)
    if unknown or "input" not in table or "output" not in table:
        raise ModelConfigError(
            f"OUTLAST_MODEL_PRICES_FILE {where}: needs `input` and `output` (and may have "
            f"`cache_read`, `cache_write`); unknown: {sorted(unknown)}"
        )
    values = {unit: _decimal(table.get(unit, table["input"]), f"{where}.{unit}") for unit in UNITS}
    return Price(**values)


def _decimal(value: object, where: str) -> Decimal:
    try:
        number = Decimal(str(value)) if isinstance(value, int | str | Decimal) else None
    except InvalidOperation:
        number = None
    if number is None or isinstance(value, bool) or not number.is_finite() or number < 0:
        raise ModelConfigError(f"OUTLAST_MODEL_PRICES_FILE {where}: not a price: {value!r}")
    return number
