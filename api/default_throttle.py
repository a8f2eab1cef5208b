"""The throttle DEFAULT_THROTTLE_CLASSES names: api.throttles.AccountThrottle,
loaded on first use.

DRF reads that setting while it defines APIView, so the module it names must
not import rest_framework.views at import time, as api.throttles does (for
RateLimitedApi); this stand-in delegates to the real throttle instead."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle


class DefaultThrottle(BaseThrottle):
    def __init__(self) -> None:
        from api.throttles import AccountThrottle

        self.throttle = AccountThrottle()

    def allow_request(self, request: Request, view: Any) -> bool:
        return self.throttle.allow_request(request, view)

    def wait(self) -> float | None:
        return self.throttle.wait()
