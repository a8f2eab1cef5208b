"""Throttles for the account endpoints. Counters live in the default cache
(Redis), rates in REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import normalize_email


class _IPThrottle(SimpleRateThrottle):
    def get_cache_key(self, request: Request, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class _EmailThrottle(SimpleRateThrottle):
    """Keyed on the email in the request body, so one address cannot be
    targeted from many IPs. No email, no key: the serializer rejects it."""

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        email = request.data.get("email") if hasattr(request.data, "get") else None
        if not isinstance(email, str) or not email.strip():
            return None
        return self.cache_format % {"scope": self.scope, "ident": normalize_email(email)}


class LoginIPThrottle(_IPThrottle):
    scope = "accounts_login_ip"


class LoginAccountThrottle(_EmailThrottle):
    """Counts failed logins only: checking does not record, the view calls
    `record_failure` when the password was wrong. A user who logs in often is
    never locked out by their own successes."""

    scope = "accounts_login_account"

    def throttle_success(self) -> bool:
        return True

    def record_failure(self, request: Request) -> None:
        key = self.get_cache_key(request, None)
        _, duration = self.parse_rate(self.rate)
        if key is None or duration is None:
            return
        now = self.timer()
        history = [t for t in self.cache.get(key, []) if t > now - duration]
        history.insert(0, now)
        self.cache.set(key, history, duration)


class RegisterThrottle(_IPThrottle):
    scope = "accounts_register"


class EmailIPThrottle(_IPThrottle):
    """Endpoints that send email (resend verification, password reset)."""

    scope = "accounts_email_ip"


class EmailAddressThrottle(_EmailThrottle):
    """The same endpoints, per target address: no mail-bombing one inbox."""

    scope = "accounts_email_address"
