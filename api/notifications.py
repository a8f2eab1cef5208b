"""Wake-ups for `GET /api/v1/jobs/{id}?wait=N`: a job's terminal transition
publishes on a Redis channel of its own; a waiting request subscribes, reads
the job once more (so a transition between its first read and the subscribe
is never missed), then blocks on the subscription. No database polling."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from uuid import UUID

import redis
from django.conf import settings

logger = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def _client() -> redis.Redis:
    # One client per process (thread-safe over its pool): building one per
    # call cost more than the PUBLISH it sends.
    pool = redis.ConnectionPool.from_url(
        settings.REDIS_URL, max_connections=settings.JOB_WAIT_REDIS_MAX_CONNECTIONS
    )
    return redis.Redis(connection_pool=pool)


def _channel(job_id: UUID | str) -> str:
    return f"imagesolve:job-finished:{job_id}"


def job_finished_notify(job_id: UUID | str) -> None:
    """Publish that a job reached a terminal state. Best effort: a waiter that
    misses it still answers when its wait runs out."""
    try:
        _client().publish(_channel(job_id), "1")
    except redis.RedisError as exc:
        logger.warning("could not publish the end of job %s: %s", job_id, type(exc).__name__)


@contextmanager
def wait_slot(user_id: int) -> Iterator[bool]:
    """One of the user's JOB_MAX_CONCURRENT_WAITS places to hold a request
    (each holds a web thread): yields False when they are all taken. A Redis
    counter; its expiry undoes the count of a process that died holding a
    place. Raises redis.RedisError if Redis is unreachable."""
    key = f"imagesolve:job-waits:{user_id}"
    client = _client()
    with client.pipeline() as pipe:
        pipe.incr(key)
        pipe.expire(key, settings.JOB_MAX_WAIT_S + 30)
        count = int(pipe.execute()[0])
    try:
        yield count <= settings.JOB_MAX_CONCURRENT_WAITS
    finally:
        try:
            client.decr(key)
        except redis.RedisError as exc:
            logger.warning("could not release a wait place of user %s: %s", user_id, type(exc).__name__)


class JobFinishedSubscription:
    """`with JobFinishedSubscription(job_id) as sub: ...; sub.wait(seconds)`.
    Entering returns once Redis has confirmed the subscription, so anything
    published after that reaches `wait`."""

    def __init__(self, job_id: UUID | str) -> None:
        self._channel = _channel(job_id)
        self._pubsub = _client().pubsub()

    def __enter__(self) -> JobFinishedSubscription:
        try:
            self._pubsub.subscribe(self._channel)
            # subscribe() only sends the command; the confirmation says the
            # server has registered it.
            deadline = time.monotonic() + 5
            while (remaining := deadline - time.monotonic()) > 0:
                message = self._pubsub.get_message(timeout=remaining)
                if message is not None and message.get("type") == "subscribe":
                    return self
            raise redis.TimeoutError(f"no confirmation of the subscription to {self._channel}")
        except BaseException:
            self._pubsub.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self._pubsub.close()

    def wait(self, seconds: float) -> bool:
        """Block until the job is announced finished or `seconds` pass."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            message = self._pubsub.get_message(timeout=remaining)
            if message is not None and message.get("type") == "message":
                return True
        return False
