"""Watching PostgreSQL's locks from a test that races real connections."""

from __future__ import annotations

import threading
from collections.abc import Callable


def seen_waiting_for_a_lock(*, unless: Callable[[], bool]) -> bool:
    """Whether a session of the test database is seen waiting for a lock
    before `unless()` turns true (the other thread got through: no wait).
    Polls pg_stat_activity for up to 30 s."""
    from django.db import connections

    with connections["default"].cursor() as cursor:
        for _ in range(3000):
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0] or unless():
                break
            threading.Event().wait(0.01)
    return not unless()
