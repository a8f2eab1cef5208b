"""Throttles for the API, with rate-limit headers so clients can pace
themselves before they are refused. Rates are in
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] (THROTTLE_SUBMIT_RATE,
THROTTLE_READ_RATE, THROTTLE_CANCEL_RATE, THROTTLE_ACCOUNT_RATE,
THROTTLE_REDELIVER_RATE); AccountThrottle is the default of every view that
names none of its own."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from accounts.models import ApiToken
from config.throttles import SlidingWindowThrottle


class TokenRateThrottle(SlidingWindowThrottle):
    """Counted per API token (two tokens of one account are two budgets, as
    with OpenAI's keys); per user for session logins. Without Redis, reads
    go unthrottled and writes answer 503 (config/throttles.py)."""

    def get_rate(self) -> str | None:
        # Read at each request, not frozen at import like DRF's class attribute.
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope or "")
        return str(rate) if rate else None

    def get_cache_key(self, request: Request, view: Any) -> str:
        if isinstance(request.auth, ApiToken):
            ident = f"token-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"ip-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def rate_limit_headers(self) -> dict[str, str]:
        if self.num_requests is None or self.duration is None or not hasattr(self, "now"):
            return {}
        remaining = max(0, self.num_requests - self.window_count)
        reset = (
            math.ceil(self.window_oldest + self.duration - self.now) if self.window_count else self.duration
        )
        return {
            "X-RateLimit-Limit": str(self.num_requests),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(max(reset, 0)),
        }


class SubmitThrottle(TokenRateThrottle):
    scope = "jobs_submit"


class ReadThrottle(TokenRateThrottle):
    scope = "jobs_read"


class CancelThrottle(TokenRateThrottle):
    """Cancels have their own budget: a client polling hard must still be
    able to cancel, and cancelling must not eat the polling budget."""

    scope = "jobs_cancel"


class AccountThrottle(TokenRateThrottle):
    """The default for every endpoint without throttles of its own: counted
    per account, whichever token or session it comes through (per client IP
    before login).

    Those views are of every app (accounts and billing must not import the
    jobs app), so they are not RateLimitedApi views: the throttle leaves its
    headers on the request and RateLimitHeadersMiddleware adds them to the
    response, refusals included."""

    scope = "account"

    def allow_request(self, request: Request, view: Any) -> bool:
        allowed = super().allow_request(request, view)
        request._request.rate_limit_headers = self.rate_limit_headers()  # type: ignore[attr-defined]
        return allowed

    def get_cache_key(self, request: Request, view: Any) -> str:
        if request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"ip-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class RateLimitHeadersMiddleware:
    """Adds the headers a throttle left on the request (AccountThrottle)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        for name, value in getattr(request, "rate_limit_headers", {}).items():
            if name not in response:
                response[name] = value
        return response


class RedeliverThrottle(TokenRateThrottle):
    """Redeliveries of one webhook delivery (each is an outbound request to
    the customer's URL). Counted per caller and delivery, so another account
    guessing the ID cannot use up the owner's budget."""

    scope = "webhooks_redeliver"

    def get_cache_key(self, request: Request, view: Any) -> str:
        # Permissions run before throttles: the caller is logged in.
        ident = f"user-{request.user.pk}:delivery-{view.kwargs.get('delivery_id')}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class RateLimitedApi(APIView):
    """An APIView that keeps its throttles to report them in the response."""

    _checked_throttles: list[BaseThrottle]

    def check_throttles(self, request: Request) -> None:
        self._checked_throttles = []
        refused = False
        waits: list[float] = []
        for throttle in self.get_throttles():
            self._checked_throttles.append(throttle)
            if not throttle.allow_request(request, self):
                refused = True
                wait = throttle.wait()
                if wait is not None:
                    waits.append(wait)
        if refused:
            self.throttled(request, max(waits, default=None))  # type: ignore[arg-type]

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        for throttle in getattr(self, "_checked_throttles", []):
            if isinstance(throttle, TokenRateThrottle):
                for name, value in throttle.rate_limit_headers().items():
                    response[name] = value
        return response
