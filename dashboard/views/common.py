"""What every dashboard page shares: the logged-in user, the overdue banner,
the API's throttles, and services' errors turned into 404s."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from rest_framework.exceptions import NotFound
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from billing.selectors import overdue_period_for_user
from dashboard.outbox import outbox_enabled

P = ParamSpec("P")
R = TypeVar("R", bound=HttpResponseBase)


def page(
    request: HttpRequest, template: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> HttpResponse:
    """Render a dashboard page, with the overdue banner for a logged-in account."""
    base: dict[str, Any] = {"outbox_enabled": outbox_enabled(), "overdue_period": None}
    if request.user.is_authenticated:
        base["overdue_period"] = overdue_period_for_user(user_id=request.user.pk)
    return render(request, template, {**base, **(context or {})}, status=status)


def customer_page(view: Callable[P, R]) -> Callable[P, R]:
    """A page for a logged-in customer. A service's NotFound (another account's
    object, or none at all) is this site's 404 page, as in the API."""

    @login_required
    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return view(*args, **kwargs)
        except NotFound:
            raise Http404 from None

    return wrapper


def throttle_wait(request: HttpRequest, *throttles: BaseThrottle) -> int | None:
    """Apply the API's throttles (same scopes and counters) to a page's POST.
    Seconds to wait when one refuses; None when all allow."""
    api_request = Request(request, parsers=[FormParser(), MultiPartParser()])
    # The session already said who this is. Both set, or DRF would run its
    # (empty) authentication and write AnonymousUser back onto `request`.
    api_request.user = request.user
    api_request.auth = None
    view = APIView()
    waits = [
        throttle.wait() or 1.0 for throttle in throttles if not throttle.allow_request(api_request, view)
    ]
    return math.ceil(max(waits)) if waits else None


def throttled_message(wait: int) -> str:
    return f"Too many attempts; try again in {wait} seconds."
