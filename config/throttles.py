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
import uuid
from typing import Any

import redis
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache import cache as default_cache
from django.core.cache.backends.redis import RedisCache
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
            return self._redis_down(request, exc)

    def _redis_down(self, request: Request, exc: Exception) -> bool:
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


# One round trip per check, atomic: drop the entries older than the window,
# count the rest, record this request if it fits. DRF's own throttle reads
# the history and writes it back (two round trips, and two requests at once
# can both pass on the same count).
_SLIDING_WINDOW = """
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local allowed = 0
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
  count = count + 1
  allowed = 1
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {allowed, count, oldest[2] or ARGV[1]}
"""


class SlidingWindowThrottle(RateThrottle):
    """DRF's sliding-window rate (the same "N/period" rates, the same
    answers) kept in a Redis sorted set and checked by one Lua script. With
    a cache that is not Django's RedisCache, DRF's implementation is used."""

    num_requests: int | None
    duration: int | None
    # How many requests the window holds, and when its oldest one leaves it.
    window_count = 0
    window_oldest = 0.0

    def allow_request(self, request: Request, view: APIView) -> bool:
        client = _redis_client(self.cache)
        if client is None:
            allowed = super().allow_request(request, view)
            history = getattr(self, "history", [])
            self.window_count = len(history)
            self.window_oldest = history[-1] if history else 0.0
            return allowed
        if self.rate is None or self.num_requests is None or self.duration is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        now = self.timer()
        try:
            allowed, count, oldest = _script(client)(
                keys=[self.cache.make_key(self.key)],
                args=[
                    repr(now),
                    self.duration,
                    self.num_requests,
                    f"{now!r}:{uuid.uuid4().hex[:8]}",
                ],
                client=client,
            )
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            return self._redis_down(request, exc)
        # Set only once counted: the rate-limit headers report a real count.
        self.now = now
        self.window_count = int(count)
        self.window_oldest = float(oldest)
        return bool(allowed)

    def wait(self) -> float | None:
        if self.num_requests is None or self.duration is None:
            return None
        remaining = self.duration - (self.now - self.window_oldest) if self.window_count else self.duration
        available = self.num_requests - self.window_count + 1
        return remaining / available if available > 0 else None


def _redis_client(cache: Any) -> redis.Redis | None:
    if cache is default_cache:
        # DRF's throttles hold django.core.cache.cache, a proxy.
        cache = caches[DEFAULT_CACHE_ALIAS]
    if not isinstance(cache, RedisCache):
        return None
    return cache._cache.get_client(write=True)


_script_cache: list[Any] = []


def _script(client: redis.Redis) -> Any:
    """The script, hashed once per process; each call runs it on the client
    it is given (EVALSHA, then EVAL once per server that lacks it)."""
    if not _script_cache:
        _script_cache.append(client.register_script(_SLIDING_WINDOW))
    return _script_cache[0]
