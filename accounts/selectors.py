from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import ApiToken, User


def token_list_for_user(*, user: User) -> QuerySet[ApiToken]:
    """The user's tokens that were not revoked (expired ones included, marked
    by their expiry), newest first."""
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).order_by("-created_at")
