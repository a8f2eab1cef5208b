"""Throttles for the account endpoints. Counters live in the default cache
(Redis), rates in REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]. Without Redis
these POST endpoints answer 503 (config/throttles.py)."""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from rest_framework.request import Request

from accounts.models import normalize_email
from config.throttles import RateThrottle


class _IPThrottle(RateThrottle):
    def get_cache_key(self, request: Request, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class _EmailThrottle(RateThrottle):
    """Keyed on the email in the request body, so one address cannot be
    targeted from many IPs. No email, no key: the serializer rejects it."""

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        email = request.data.get("email") if hasattr(request.data, "get") else None
        if not isinstance(email, str) or not email.strip():
            return None
        return self.cache_format % {"scope": self.scope, "ident": normalize_email(email)}


class LoginIPThrottle(_IPThrottle):
    scope = "accounts_login_ip"


class LoginAccountThrottle(RateThrottle):
    """Failed logins per account, whatever the IP. Not one of the view's
    `throttle_classes`: the login view calls it around the password check.

    An attempt takes a slot *before* the password is checked (~100 ms of
    argon2), with an atomic increment, so concurrent guesses cannot all pass a
    check that none of them has recorded yet. The view gives the slot back
    (`release`) unless the password was wrong: only failures count, and a user
    who logs in often is never locked out by their own successes.

    The count is kept per fixed window of the rate's period (the clock hour
    for "10/hour"), in one cache key that expires with its window; Retry-After
    is the time left in it. At most `limit` failures land in any one window,
    so at most twice that in the span of one period around a window boundary.
    """

    scope = "accounts_login_account"

    def __init__(self) -> None:
        super().__init__()
        self.key = None
        self.now = 0.0

    def reserve(self, email: str) -> bool:
        """Take a slot for one login attempt on `email`; False when the
        account has used up its failures for this window (nothing is held)."""
        self.key = None
        limit, period = self.parse_rate(self.rate)
        if limit is None or period is None:
            return True
        self.now = self.timer()
        window = int(self.now // period)
        key = self.cache_format % {"scope": self.scope, "ident": f"{normalize_email(email)}:{window}"}
        # SET NX, then INCR: each atomic in Redis, so every racer gets its own n.
        self.cache.add(key, 0, period)
        try:
            n = self.cache.incr(key)
        except ValueError:  # expired in between (clock skew between servers, eviction)
            self.cache.add(key, 0, period)
            n = self.cache.incr(key)
        if n == 1:
            # A key that expires just before an INCR or DECR comes back without
            # a TTL; every count passes 1 on its way up, so it gets one here.
            self.cache.touch(key, period)
        self.key = key
        if n > limit:
            self.release()
            return False
        return True

    def release(self) -> None:
        """Give the slot back: the attempt was not a failed password check
        (or was refused). Safe to call twice."""
        key, self.key = self.key, None
        if key is None:
            return
        with suppress(ValueError):  # the window ended meanwhile
            self.cache.decr(key)

    def wait(self) -> float:
        """Seconds until the current window ends."""
        _, period = self.parse_rate(self.rate)
        if period is None:
            return 0.0
        return period - self.now % period


class RegisterThrottle(_IPThrottle):
    scope = "accounts_register"


class EmailIPThrottle(_IPThrottle):
    """Endpoints that send email (resend verification, password reset)."""

    scope = "accounts_email_ip"


class EmailAddressThrottle(_EmailThrottle):
    """The same endpoints, per target address: no mail-bombing one inbox."""

    scope = "accounts_email_address"
