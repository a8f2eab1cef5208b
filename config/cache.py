"""Django's Redis cache with one connection pool per process. Django keeps a
cache object per thread, each with its own pool; under bin/web's gevent
workers every connection to the web server is served by a greenlet of its own,
so each would open a Redis connection of its own (and keep it while it waits
on `?wait=N`): a thousand waiters, a thousand idle connections."""

from __future__ import annotations

import os
import threading
from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient

_pools: dict[tuple[int, str, str], Any] = {}
_lock = threading.Lock()


class _SharedPoolClient(RedisCacheClient):
    def _get_connection_pool(self, write: bool) -> Any:
        this: Any = self  # Django's private attributes, which its stubs omit
        server = this._servers[this._get_connection_pool_index(write)]
        options = this._pool_options
        # By process: a pool's connections are not to be used across a fork.
        key = (os.getpid(), server, repr(sorted(options.items(), key=lambda item: item[0])))
        with _lock:
            pool = _pools.get(key)
            if pool is None:
                pool = _pools[key] = this._pool_class.from_url(server, **options)
        return pool


class RedisCache(DjangoRedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _SharedPoolClient
