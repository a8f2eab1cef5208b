"""How many requests one web process runs at once. Under bin/web's gevent
workers a process takes every connection it is offered; without a bound, a
burst of requests would all start, share the CPU, and hold the database pool's
connections for as long as they take, so that those queued on the pool time
out (503) where a threaded server would have kept them in its accept queue.
Here the surplus waits its turn, without a timeout, before it starts; a
`?wait=N` request gives its place back while it waits for its job.

The places are handed out in the order they were asked for. A semaphore
would let a request arriving just as a place is given back take it before
the one woken for it runs; the woken one then waits again at the back of
the line, and under load a few requests wait for seconds while the median
takes milliseconds (bench_web, 4 gevent processes of 5 places: GET p99
1.6 s at a p50 of 33 ms)."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

# The places the current request holds (per thread, per greenlet under gevent).
_held = threading.local()


class Places:
    """`limit` places, given in first-come order: a place given back goes
    straight to the longest waiting, never to a request arriving meanwhile."""

    def __init__(self, limit: int) -> None:
        self._lock = threading.Lock()
        self._free = limit
        self._waiting: deque[threading.Event] = deque()

    def acquire(self) -> None:
        with self._lock:
            if self._free:
                self._free -= 1
                return
            turn = threading.Event()
            self._waiting.append(turn)
        try:
            turn.wait()
        except BaseException:
            # Cut short (a worker stopping kills its greenlets): out of the
            # line, or, if a place was handed over meanwhile, give it on.
            with self._lock:
                handed = turn not in self._waiting
                if not handed:
                    self._waiting.remove(turn)
            if handed:
                self.release()
            raise

    def release(self) -> None:
        with self._lock:
            if self._waiting:
                self._waiting.popleft().set()
            else:
                self._free += 1

    def waiting(self) -> int:
        """How many requests wait for a place."""
        return len(self._waiting)


class AdmissionLimit:
    """WSGI middleware: at most `limit` requests in the application at once."""

    def __init__(self, app: Callable[..., Iterable[bytes]], limit: int) -> None:
        self._app = app
        self._places = Places(limit) if limit > 0 else None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if self._places is None:
            return self._app(environ, start_response)
        self._places.acquire()
        _held.places = self._places
        try:
            # Django renders the body within the call; sending it is not held.
            return self._app(environ, start_response)
        finally:
            # Not held if it was given back and taking it again was cut
            # short (a worker stopping kills its greenlets).
            if getattr(_held, "places", None) is not None:
                _held.places = None
                self._places.release()


@contextmanager
def admission_released() -> Iterator[None]:
    """Give the current request's place back for the duration of the block
    (it waits on something other than the CPU or the database); taken again,
    after the requests queued meanwhile, on the way out."""
    places = getattr(_held, "places", None)
    if places is None:
        yield
        return
    _held.places = None
    places.release()
    try:
        yield
    finally:
        places.acquire()
        _held.places = places
