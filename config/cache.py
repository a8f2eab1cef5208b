"""Django's Redis cache with one connection pool (and one client over it) per
process. Django keeps a cache object per thread, each with its own pool;
under bin/web's gevent workers every connection to the web server is served
by a greenlet of its own, so each would open a Redis connection of its own
(and keep it while it waits on `?wait=N`): a thousand waiters, a thousand
idle connections."""

from __future__ import annotations

import os
import threading
from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient

# (process, server, options) -> the pool and a client over it.
_shared: dict[tuple[int, str, str], tuple[Any, Any]] = {}
_lock = threading.Lock()


class _SharedPoolClient(RedisCacheClient):
    def _pool_and_client(self, write: bool) -> tuple[Any, Any]:
        this: Any = self  # Django's private attributes, which its stubs omit
        server = this._servers[this._get_connection_pool_index(write)]
        options = this._pool_options
        # By process: a pool's connections are not to be used across a fork.
        key = (os.getpid(), server, repr(sorted(options.items(), key=lambda item: item[0])))
        with _lock:
            shared = _shared.get(key)
            if shared is None:
                pool = this._pool_class.from_url(server, **options)
                shared = _shared[key] = (pool, this._client(connection_pool=pool))
        return shared

    def _get_connection_pool(self, write: bool) -> Any:
        return self._pool_and_client(write)[0]

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        # Django builds a new redis.Redis for every operation, and building
        # one (its table of response callbacks) cost ~0.3 ms of CPU, more
        # than the round trip. A client holds no connection of its own (the
        # pool does) and may be shared by threads and greenlets.
        return self._pool_and_client(write)[1]


class RedisCache(DjangoRedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _SharedPoolClient
