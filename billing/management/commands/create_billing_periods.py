from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from billing.management.commands._now import add_now_argument
from billing.services import periods_roll


class Command(BaseCommand):
    help = (
        "Roll billing periods: close the open periods that have ended (freezing their totals) "
        "and open the current month for every active account. Safe to run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_now_argument(parser)

    def handle(self, *args: Any, now: Any = None, **options: Any) -> None:
        result = periods_roll(now=now or timezone.now())
        self.stdout.write(
            f"closed {result.closed} (settled at zero: {result.settled}), opened {result.opened}"
        )
