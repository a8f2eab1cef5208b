"""How many requests one web process runs at once. Under bin/web's gevent
workers a process takes every connection it is offered; without a bound, a
burst of requests would all start, share the CPU, and hold the database pool's
connections for as long as they take, so that those queued on the pool time
out (503) where a threaded server would have kept them in its accept queue.
Here the surplus waits its turn, without a timeout, before it starts; a
`?wait=N` request gives its place back while it waits for its job."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

# The places the current request holds (per thread, per greenlet under gevent).
_held = threading.local()


class AdmissionLimit:
    """WSGI middleware: at most `limit` requests in the application at once."""

    def __init__(self, app: Callable[..., Iterable[bytes]], limit: int) -> None:
        self._app = app
        self._places = threading.BoundedSemaphore(limit) if limit > 0 else None

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
