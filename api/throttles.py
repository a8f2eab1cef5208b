"""Per-token throttles for the jobs API, with rate-limit headers so clients
can pace themselves before they are refused. Rates are in
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] (THROTTLE_SUBMIT_RATE, THROTTLE_READ_RATE)."""

from __future__ import annotations

import math
from typing import Any

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
