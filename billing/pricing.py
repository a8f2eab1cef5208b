"""Prices from settings and the cost of one job, in integer micro-dollars."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

MICROS_PER_CENT = 10_000


@dataclass(frozen=True)
class ModelPrice:
    """USD per million tokens; a per-token price in µ$ is the same number."""

    input: Decimal
    cached_input: Decimal
    output: Decimal


@dataclass(frozen=True)
class Cost:
    request_fee_micros: int
    price: ModelPrice
    total_micros: int


# Answers of the local solver (workers/providers/local): a fee of their own,
# no tokens.
LOCAL_MODEL = "local"
_NO_TOKEN_PRICE = ModelPrice(input=Decimal(0), cached_input=Decimal(0), output=Decimal(0))


def price_for(model: str) -> ModelPrice:
    if model == LOCAL_MODEL:
        return _NO_TOKEN_PRICE
    try:
        row = settings.MODEL_PRICES[model]
    except KeyError:
        raise LookupError(f"No price configured for model {model!r} (MODEL_PRICES)") from None
    input_price = Decimal(str(row["input"]))
    return ModelPrice(
        input=input_price,
        # A model without a cached price charges cached tokens as input.
        cached_input=Decimal(str(row.get("cached_input", input_price))),
        output=Decimal(str(row["output"])),
    )


def request_fee_micros(model: str = "") -> int:
    cents = settings.LOCAL_COST_PER_REQUEST_CENTS if model == LOCAL_MODEL else settings.COST_PER_REQUEST_CENTS
    return int(cents) * MICROS_PER_CENT


def job_cost(*, model: str, input_tokens: int, cached_tokens: int, output_tokens: int) -> Cost:
    """`input_tokens` includes the cached ones (as OpenAI reports them); those
    are charged at the cached price instead."""
    price = price_for(model)
    cached = min(cached_tokens, input_tokens)
    tokens_micros = (
        (input_tokens - cached) * price.input + cached * price.cached_input + output_tokens * price.output
    )
    fee = request_fee_micros(model)
    total = fee + int(tokens_micros.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return Cost(request_fee_micros=fee, price=price, total_micros=total)


def micros_to_usd(micros: int) -> str:
    """A decimal string in USD, e.g. 12345 -> "0.012345"."""
    return str((Decimal(micros) / Decimal(1_000_000)).quantize(Decimal("0.000001")))
