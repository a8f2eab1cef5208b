"""The broker, as the workers use it: kombu's Redis transport with one
repair, so a worker survives its broker going away while it has tasks in
flight; and `queues_empty`, the queue lengths the requeue task asks for.

When the Redis broker disappears, Celery's consumer (5.7) first
`collect()`s the broken connection and then `close()`s it again. kombu's
Redis channel (5.7) starts its close by reading the reply of the BRPOP it
has outstanding; with the server gone that read raises ConnectionError,
which aborts the close before the channel is marked closed (kombu swallows
the error). The collect then detaches the transport from its connection
(`transport.client = None`), and the second close finds the channel still
open and tries to give its unacknowledged messages back: a new pool built
from `self.connection.client.hostname` -> AttributeError. That is not a
connection error, so Celery calls it unrecoverable and the worker exits
("Restoring N unacknowledged message(s)", then `'NoneType' object has no
attribute 'hostname'` in `_connparams`).

The repair, at the channel: a pending BRPOP that died with its connection
has nothing left to read, and a channel whose connection has already been
collected has no server to give messages back to. Those messages stay in
Redis's unacked set and come back after the visibility timeout; the jobs
they carry are taken back sooner by their leases (see workers/leases.py).

And one saving: kombu builds a new redis-py client for every acknowledgement,
every message added to the unacked set and every task event published (three
per task), and building one costs more than the round trip it sends (redis-py
fills a table of ~250 response callbacks each time). The channel keeps one
client over its connection pool instead; redis-py clients are thread-safe,
and each use still takes its own connection (or pipeline) from the pool.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from queue import Empty
from typing import Any

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import redis as kombu_redis

logger = logging.getLogger(__name__)


class Channel(kombu_redis.Channel):
    _shared_client: Any = None

    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:
            # The BRPOP client: kombu builds it once (Channel.client).
            return super()._create_client(asynchronous=True)  # type: ignore[misc]
        pool = self.pool
        client = self._shared_client
        if client is None or client.connection_pool is not pool:
            # First use, or the pool was replaced (kombu disconnects its
            # pools after a connection error and builds new ones).
            client = self._shared_client = super()._create_client()  # type: ignore[misc]
        return client

    def close(self) -> None:
        if self._in_poll:  # type: ignore[attr-defined]
            try:
                self._brpop_read()  # type: ignore[attr-defined]
            except (Empty, *self.connection_errors):  # type: ignore[attr-defined]
                # The BRPOP's connection is gone: nothing more will arrive.
                pass
        if not self.closed and self.connection.client is None:
            logger.warning(
                "closed a channel whose broker connection is gone; messages it had not "
                "acknowledged come back after the visibility timeout"
            )
            self.closed = True
            if self._qos is not None:
                # Nor at exit: the QoS would try to restore them then, to a
                # broker that may still be away.
                self._qos._on_collect.cancel()  # type: ignore[attr-defined]
            return
        super().close()


class Transport(kombu_redis.Transport):
    Channel = Channel


def queues_empty(app: Celery, names: Iterable[str]) -> bool:
    """Whether no message waits in any of the queues `names` (Redis or
    RabbitMQ). A broker that cannot be asked is not taken for empty."""
    with app.connection_for_read() as connection:
        try:
            return all(_waiting(connection, name) == 0 for name in names)
        except connection.connection_errors:
            logger.warning("could not read the length of the queues %s", ", ".join(names))
            return False


def _waiting(connection: Any, name: str) -> int:
    with connection.channel() as channel:
        try:
            return int(channel.queue_declare(queue=name, passive=True).message_count)
        except connection.channel_errors:
            return 0  # never declared: nothing waits in it


def install() -> None:
    """Make `redis://` and `rediss://` broker URLs use this transport.
    Called by workers/celery.py before any connection exists."""
    TRANSPORT_ALIASES["redis"] = TRANSPORT_ALIASES["rediss"] = f"{__name__}:Transport"
