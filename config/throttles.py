"""The base of every rate throttle: what a throttle does when Redis, where
its counters live, cannot be reached.

- Safe methods (GET, HEAD, OPTIONS) are let through unthrottled (fail open):
  they read the database only, and a Redis outage must not take every read
  down with it. One warning line per request says the limit was skipped.
- Anything else answers 503 (DependencyUnavailable "redis"): submissions,
  logins and emails are what throttles protect, and a limit that silently
  stops counting during an outage is an open door for a password guesser.

A throttle that does not derive from this class still never answers 500:
its Redis error reaches config/problems.py, which answers 503.
"""

from __future__ import annotations

import logging

import redis
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from config.problems import DependencyUnavailable

logger = logging.getLogger(__name__)


class RateThrottle(SimpleRateThrottle):
    def allow_request(self, request: Request, view: APIView) -> bool:
        try:
            return super().allow_request(request, view)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            if request.method in SAFE_METHODS:
                logger.warning(
                    "throttle %s skipped for %s %s: Redis unavailable (%s)",
                    self.scope,
                    request.method,
                    request.path,
                    type(exc).__name__,
                )
                return True
            raise DependencyUnavailable("redis") from exc
