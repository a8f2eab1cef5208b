from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from accounts import services
from accounts.models import User, normalize_email


class Command(BaseCommand):
    help = "Generate single-use invite codes and print them, one a line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("count", type=int, nargs="?", default=1, help="How many codes (default 1).")
        parser.add_argument("--expires-in-days", type=int, default=None, help="Codes expire after N days.")
        parser.add_argument("--created-by", default=None, help="Staff email recorded as creator.")

    def handle(self, *args: Any, **options: Any) -> None:
        count: int = options["count"]
        if not 1 <= count <= 10_000:
            raise CommandError("count must be between 1 and 10000")
        created_by = None
        if options["created_by"]:
            created_by = User.objects.filter(email=normalize_email(options["created_by"])).first()
            if created_by is None or not created_by.is_staff:
                raise CommandError(f"No staff user with email {options['created_by']!r}")
        days = options["expires_in_days"]
        if days is not None and days < 1:
            raise CommandError("--expires-in-days must be at least 1")
        codes = services.invite_code_create_batch(
            count=count,
            created_by=created_by,
            expires_at=timezone.now() + timedelta(days=days) if days else None,
        )
        for code in codes:
            self.stdout.write(code.code)
