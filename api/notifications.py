"""Wake-ups for `GET /api/v1/jobs/{id}?wait=N`: a job's terminal transition
publishes on a Redis channel of its own. Each process holds one subscription
to all of them (a pattern); a waiting request registers with it, reads the
job once more (so a transition between its first read and the registration
is never missed), then blocks on an event the subscription sets. No
database polling, and no Redis connection per waiter."""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from uuid import UUID

import redis
from django.conf import settings

from config.locked_cache import locked_lru_cache

logger = logging.getLogger(__name__)


@locked_lru_cache(maxsize=1)
def _client() -> redis.Redis:
    # One client per process (thread-safe over its pool): building one per
    # call cost more than the PUBLISH it sends. Built once even when a
    # worker's threads all end their first job at once.
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
    (each holds a connection to the web host): yields False when they are all taken. A Redis
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


PATTERN = "imagesolve:job-finished:*"
# The listener pings Redis after this long without a message, and reconnects
# when the answer takes as long: a connection cut without a reset (a host
# gone) would otherwise leave this process's waiters unwoken for good.
_PING_AFTER_S = 15.0
_LISTENER_READY_TIMEOUT_S = 2.0


class _Listener:
    """This process's one Redis subscription to every job's end (a pattern),
    which wakes the waiters registered here: a waiting request costs an entry
    in a dict, not a Redis connection nor a thread. Every job's end reaches
    every web process; a dict lookup each. While its connection is down it
    accepts no waiter, and losing it wakes every waiter (a notification may
    be lost with it): they answer with the job as it is."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._lock = threading.Lock()
        self._waiters: dict[str, set[threading.Event]] = {}
        self._ready = threading.Event()  # subscribed, confirmed, connection up
        self._closed = False
        self._failures = 0  # in a row; the first of an outage is logged
        self._thread = threading.Thread(target=self._run, name="job-finished-listener", daemon=True)
        self._thread.start()

    def register(self, channel: str) -> threading.Event:
        """An event set when `channel` is published on (or the subscription
        is lost). Raises redis.ConnectionError while there is no subscription."""
        if not self._ready.wait(_LISTENER_READY_TIMEOUT_S):
            raise redis.ConnectionError("no subscription to the ends of jobs")
        event = threading.Event()
        with self._lock:
            # Lost since: its waiters were woken; this one would be missed.
            if not self._ready.is_set():
                raise redis.ConnectionError("the subscription to the ends of jobs was lost")
            self._waiters.setdefault(channel, set()).add(event)
        return event

    def unregister(self, channel: str, event: threading.Event) -> None:
        with self._lock:
            events = self._waiters.get(channel)
            if events is not None:
                events.discard(event)
                if not events:
                    del self._waiters[channel]

    def waiting(self, channel: str) -> int:
        with self._lock:
            return len(self._waiters.get(channel, ()))

    def close(self) -> None:
        self._closed = True
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._closed:
            pubsub = _client().pubsub()
            try:
                pubsub.psubscribe(PATTERN)
                self._listen(pubsub)
            except (redis.RedisError, OSError) as exc:
                if self._failures == 0:  # once per outage, not once a second
                    logger.warning("job-end subscription lost (%s); reconnecting", type(exc).__name__)
                self._failures += 1
            finally:
                with self._lock:
                    self._ready.clear()
                    self._wake_all()
                with suppress(Exception):
                    pubsub.close()
            if not self._closed:
                time.sleep(1)

    def _wake_all(self) -> None:
        for events in self._waiters.values():
            for event in events:
                event.set()

    def _listen(self, pubsub: redis.client.PubSub) -> None:
        last_heard = time.monotonic()
        pinged = False
        while not self._closed:
            message = pubsub.get_message(timeout=1.0)
            now = time.monotonic()
            if message is None:
                if now - last_heard > _PING_AFTER_S * (2 if pinged else 1):
                    if pinged:
                        raise redis.TimeoutError("no answer to a ping")
                    pubsub.ping()
                    pinged = True
                continue
            last_heard, pinged = now, False
            kind = message["type"]
            if kind == "psubscribe":
                # Confirmed: anything published from now on reaches us. A
                # confirmation after the first comes from redis-py having
                # reconnected (and subscribed again) by itself: what was
                # published meanwhile is lost, so the waiters are woken.
                with self._lock:
                    self._wake_all()
                    self._ready.set()
                self._failures = 0
            elif kind == "pmessage":
                channel = message["channel"]
                key = channel.decode() if isinstance(channel, bytes) else str(channel)
                with self._lock:
                    events = list(self._waiters.get(key, ()))
                for event in events:
                    event.set()


_listener_lock = threading.Lock()
_current_listener: _Listener | None = None
_stopped_at_exit = False


def _listener() -> _Listener:
    """This process's listener, started on first use (so after a fork: a
    gunicorn worker starts its own)."""
    global _current_listener, _stopped_at_exit
    with _listener_lock:
        if _current_listener is None or _current_listener.pid != os.getpid():
            if not _stopped_at_exit:
                # Before the interpreter (and the logging it would use) goes.
                atexit.register(listener_reset)
                _stopped_at_exit = True
            _current_listener = _Listener()
        return _current_listener


def listener_reset() -> None:
    """Stop this process's listener; the next wait starts one on the Redis
    of the settings then (tests that swap Redis servers)."""
    global _current_listener
    with _listener_lock:
        listener, _current_listener = _current_listener, None
    if listener is not None and listener.pid == os.getpid():
        listener.close()


class JobFinishedSubscription:
    """`with JobFinishedSubscription(job_id) as sub: ...; sub.wait(seconds)`.
    Entering returns once this process's subscription (confirmed by Redis)
    will wake this waiter, so anything published after that reaches `wait`."""

    def __init__(self, job_id: UUID | str) -> None:
        self._channel = _channel(job_id)
        self._event: threading.Event | None = None

    def __enter__(self) -> JobFinishedSubscription:
        self._event = _listener().register(self._channel)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._event is not None:
            _listener().unregister(self._channel, self._event)

    def wait(self, seconds: float) -> bool:
        """Block until the job is announced finished (or the subscription is
        lost) or `seconds` pass."""
        if self._event is None:
            raise RuntimeError("wait() outside the with block")
        return self._event.wait(seconds)
