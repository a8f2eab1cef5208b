"""The `--now` option shared by the billing commands."""

from __future__ import annotations

from argparse import ArgumentTypeError
from datetime import UTC, datetime

from django.core.management.base import CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime


def aware_datetime(raw: str) -> datetime:
    """An ISO 8601 datetime; without an offset it is taken as UTC."""
    parsed = parse_datetime(raw)
    if parsed is None:
        raise ArgumentTypeError(f"not an ISO 8601 datetime: {raw!r}")
    parsed = parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=UTC)
    # A moment in the future would close the month that is still running, and
    # jobs finishing now would find no open period to be billed in.
    if parsed > timezone.now():
        raise ArgumentTypeError(f"{raw!r} is in the future; --now is for back-filling the past")
    return parsed


def add_now_argument(parser: CommandParser) -> None:
    parser.add_argument(
        "--now",
        type=aware_datetime,
        default=None,
        help="act as if it were this past moment (ISO 8601, UTC unless an offset is given); "
        "for back-filling and testing",
    )
