"""config/cache.py: Django's Redis cache with one pool and one client per
process, whichever thread (or greenlet) asks."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.core.cache import caches

from config.cache import RedisCache


@pytest.fixture
def redis_cache():
    cache = caches["default"]
    if not isinstance(cache, RedisCache):
        pytest.skip("the suite's cache is not Redis")
    return cache


def test_every_thread_uses_the_process_client_and_pool(redis_cache) -> None:
    mine = (redis_cache._cache.get_client(write=True), redis_cache._cache._get_connection_pool(True))
    theirs: list[tuple] = []

    def other_thread() -> None:
        # Django gives each thread a cache object of its own.
        cache: Any = caches["default"]
        theirs.append((cache._cache.get_client(write=True), cache._cache._get_connection_pool(True)))

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join(timeout=10)
    assert theirs and theirs[0][0] is mine[0] and theirs[0][1] is mine[1]
    assert mine[0].connection_pool is mine[1]


def test_the_shared_client_reads_and_writes(redis_cache) -> None:
    redis_cache.set("cache-test:key", {"a": 1}, timeout=30)
    assert redis_cache.get("cache-test:key") == {"a": 1}
    assert redis_cache.add("cache-test:key", "other") is False
    redis_cache.delete("cache-test:key")
    assert redis_cache.get("cache-test:key") is None
