from __future__ import annotations

from django import template

from billing.pricing import micros_to_usd

register = template.Library()


@register.filter
def usd(micros: int | None) -> str:
    """Integer micro-dollars as dollars, e.g. 12345 -> "$0.012345"."""
    return f"${micros_to_usd(micros or 0)}"
