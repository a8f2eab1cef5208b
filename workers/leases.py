"""Leases of the jobs this worker process is running, renewed by one
background thread while the calls to the model last.

A run holds its job's lease (`held`); every JOB_LEASE_RENEW_S the thread
extends the leases of all runs in flight with one UPDATE
(`job_leases_renew`). If this process dies, nothing renews them, and the
recovery task takes the jobs back once JOB_LEASE_S has passed: seconds,
not the run deadline. The thread runs only while some lease is held."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection

from api.services import job_leases_renew
from config.database import connection_release

logger = logging.getLogger(__name__)

_lock = threading.Lock()
# (job ID, task ID) -> how many runs in this process hold it (a redelivered
# message may briefly run beside the original).
_held: dict[tuple[str, str], int] = {}
_renewer: threading.Thread | None = None


@contextmanager
def held(*, job_id: str, task_id: str) -> Iterator[None]:
    """Keep the job's lease alive while the block runs."""
    global _renewer
    claim = (job_id, task_id)
    with _lock:
        _held[claim] = _held.get(claim, 0) + 1
        if _renewer is None:
            _renewer = threading.Thread(target=_renew_while_held, name="job-lease-renewer", daemon=True)
            _renewer.start()
    try:
        yield
    finally:
        with _lock:
            _held[claim] -= 1
            if not _held[claim]:
                del _held[claim]


def _renew_while_held() -> None:
    global _renewer
    try:
        while True:
            time.sleep(settings.JOB_LEASE_RENEW_S)
            with _lock:
                claims = list(_held)
                if not claims:
                    # Decided under the lock: a run that starts from now on
                    # starts a new thread.
                    _renewer = None
                    return
            _renew(claims)
    finally:
        with _lock:
            if _renewer is threading.current_thread():
                _renewer = None
        connection.close()


def _renew(claims: list[tuple[str, str]]) -> None:
    # A connection broken by a database restart is dropped here and opened
    # again on the next query, so renewal resumes when the database is back.
    close_old_connections()
    try:
        renewed = job_leases_renew(claims=claims)
    except DatabaseError:
        logger.warning("could not renew the leases of %d running job(s)", len(claims), exc_info=True)
        connection.close()
        return
    # With DATABASE_POOL, back to the pool until the next renewal.
    connection_release()
    if renewed < len(claims):
        # Taken back (the lease ran out during a database outage), canceled
        # or finished: those runs' outcomes will be discarded.
        logger.info("renewed %d of %d job lease(s); the others are no longer held", renewed, len(claims))
