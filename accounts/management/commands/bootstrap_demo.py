from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from accounts import services
from accounts.models import ApiToken, InviteCode, User

ADMIN_EMAIL, ADMIN_PASSWORD = "admin@example.com", "admin123"
USER_EMAIL, USER_PASSWORD = "user@example.com", "user123"
DEMO_TOKEN_NAME = "demo"  # noqa: S105 - a label, not a secret
DEMO_INVITE_CODE = "DEMO1234"


class Command(BaseCommand):
    help = (
        "Create demo data: an admin, a verified user, an unused invite code DEMO1234 and an "
        "API token (development only; safe to run again)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="Run even with DEBUG off.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError("Refusing to create demo accounts with DEBUG off (use --force).")
        with transaction.atomic():
            admin = self._user(ADMIN_EMAIL, ADMIN_PASSWORD, staff=True)
            user = self._user(USER_EMAIL, USER_PASSWORD, staff=False)
            invite, _ = InviteCode.objects.get_or_create(
                code=DEMO_INVITE_CODE, defaults={"created_by": admin}
            )
            token = self._token(user)
        self.stdout.write(f"Admin: {admin.email} / {ADMIN_PASSWORD}")
        self.stdout.write(f"User:  {user.email} / {USER_PASSWORD}")
        if invite.used_at is None:
            self.stdout.write(f"Invite code: {invite.code} (unused)")
        else:
            self.stdout.write(f"Invite code: {invite.code} (used by {invite.used_by or 'a deleted user'})")
        if token:
            self.stdout.write(f"API token for {user.email} (shown once): {token}")
        else:
            self.stdout.write(
                f"API token for {user.email}: already created (revoke it and rerun for a new one)"
            )

    def _user(self, email: str, password: str, *, staff: bool) -> User:
        # Known demo passwords on purpose: create_user skips the validators.
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(
                email,
                password,
                is_staff=staff,
                is_superuser=staff,
                email_verified_at=timezone.now(),
            )
        return user

    def _token(self, user: User) -> str | None:
        if ApiToken.objects.filter(user=user, name=DEMO_TOKEN_NAME, revoked_at__isnull=True).exists():
            return None
        return services.token_create(user=user, name=DEMO_TOKEN_NAME)[1]
