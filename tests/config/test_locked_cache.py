"""config/locked_cache.py: a value costly to build is built once, however
many threads ask for it at the same moment."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from api import notifications
from config.locked_cache import locked_lru_cache

THREADS = 16


def at_once(function, threads: int = THREADS) -> list:
    """`function` called by `threads` threads released together."""
    barrier = threading.Barrier(threads)

    def call():
        barrier.wait(5)
        return function()

    with ThreadPoolExecutor(threads) as pool:
        return [f.result(10) for f in [pool.submit(call) for _ in range(threads)]]


def test_threads_that_miss_together_build_the_value_once() -> None:
    built: list[str] = []

    @locked_lru_cache(maxsize=2)
    def build(name: str) -> object:
        built.append(name)
        time.sleep(0.05)  # long enough for every thread to miss
        return object()

    values = at_once(lambda: build("a"))
    assert built == ["a"]
    assert len({id(v) for v in values}) == 1
    # Other arguments are another value; the least recently used one goes.
    assert build("b") is not values[0]
    assert build("a") is values[0]
    build("c")
    assert build("b") is not None and built == ["a", "b", "c", "b"]


def test_an_error_is_not_cached_and_the_next_caller_builds_again() -> None:
    calls: list[int] = []

    @locked_lru_cache(maxsize=1)
    def build() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("first build fails")
        return len(calls)

    with pytest.raises(ConnectionError):
        build()
    assert build() == 2 and build() == 2


def test_one_redis_client_for_job_notifications() -> None:
    notifications._client.cache_clear()
    try:
        clients = at_once(notifications._client)
        assert len({id(c) for c in clients}) == 1
    finally:
        notifications._client.cache_clear()
