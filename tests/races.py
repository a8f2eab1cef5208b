"""Races between real PostgreSQL connections, from a test: work on threads
of their own (each with its own connection), a transaction held open while
the test runs something against it, and a watch for a session waiting on
a lock."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection, transaction

TIMEOUT_S = 30.0

needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite's IMMEDIATE transactions run writers one at a time; the race needs PostgreSQL",
)


class InThread:
    """`work()` started on a thread of its own, with a database connection of
    its own (closed when it ends); its result, or its exception, is for the
    test's thread to take."""

    def __init__(self, work: Callable[[], Any]) -> None:
        self._work = work
        self._outcome: list[tuple[bool, Any]] = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._outcome.append((True, self._work()))
        except BaseException as exc:  # raised again in the test's thread
            self._outcome.append((False, exc))
        finally:
            connection.close()

    def done(self) -> bool:
        return bool(self._outcome)

    def result(self) -> Any:
        """What `work()` returned, once it has; what it raised, raised."""
        self._thread.join(TIMEOUT_S)
        assert self._outcome, f"still running after {TIMEOUT_S:.0f} s"
        returned, value = self._outcome[0]
        if not returned:
            raise value
        return value


@contextmanager
def transaction_held_open(work: Callable[[], Any]) -> Iterator[None]:
    """Run `work()` in a transaction on a thread of its own, then the block
    while that transaction is still open (its locks held); it commits when
    the block ends. What `work()` raises is raised here."""
    ready = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with transaction.atomic():
            work()
            ready.set()
            if not release.wait(TIMEOUT_S):
                raise TimeoutError("the block did not end")

    holder = InThread(hold)
    deadline = time.monotonic() + TIMEOUT_S
    while not ready.wait(0.01):
        if holder.done():
            holder.result()  # work() failed: raises its error
        assert time.monotonic() < deadline, f"work() still running after {TIMEOUT_S:.0f} s"
    try:
        yield
    finally:
        release.set()
    holder.result()


def seen_waiting_for_a_lock(*, unless: Callable[[], bool]) -> bool:
    """Whether a session of the test database is seen waiting for a lock
    before `unless()` turns true (the other thread got through: no wait).
    Polls pg_stat_activity for up to 30 s."""
    with connection.cursor() as cursor:
        for _ in range(3000):
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0] or unless():
                break
            threading.Event().wait(0.01)
    return not unless()
