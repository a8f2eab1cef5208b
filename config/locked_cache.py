"""functools.lru_cache for what is costly to build and shared by threads.

lru_cache does not hold other callers while it calls the function: threads
that miss together each build their own value, and all but one are thrown
away (its documentation says so). A worker's threads take their first
tasks together, so a client built on first use was built by up to every
thread: 500 threads released together built 500 OpenAI clients, each
loading the CA bundle for its TLS context (bench/report.md). Here the first
caller builds the value and the others wait for it."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class LockedLruCache(Generic[T]):
    """`function` behind functools.lru_cache(maxsize), called under a lock."""

    def __init__(self, function: Callable[..., T], maxsize: int) -> None:
        self._cached = functools.lru_cache(maxsize=maxsize)(function)
        self._lock = threading.Lock()
        functools.update_wrapper(self, function)

    def __call__(self, *args: Hashable) -> T:
        # Held for a lookup once built: well under a microsecond.
        with self._lock:
            return self._cached(*args)

    def cache_clear(self) -> None:
        with self._lock:
            self._cached.cache_clear()


def locked_lru_cache(maxsize: int) -> Callable[[Callable[..., T]], LockedLruCache[T]]:
    def decorate(function: Callable[..., T]) -> LockedLruCache[T]:
        return LockedLruCache(function, maxsize)

    return decorate
