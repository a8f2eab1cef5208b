from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from billing.management.commands._now import add_now_argument
from billing.services import periods_mark_overdue


class Command(BaseCommand):
    help = "Mark closed billing periods unpaid past their due date as overdue. Safe to run again."

    def add_arguments(self, parser: CommandParser) -> None:
        add_now_argument(parser)

    def handle(self, *args: Any, now: Any = None, **options: Any) -> None:
        marked = periods_mark_overdue(now=now or timezone.now())
        self.stdout.write(f"marked {marked} overdue")
