"""workers/broker.py: the Redis transport a worker keeps running on when its
broker goes away with messages unacknowledged. On a Redis of the test's own."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from kombu import Connection, Exchange, Queue

import workers.celery
from tests.private_servers import PrivateRedis
from workers import broker

QUEUE = Queue("transport-test", Exchange("transport-test"), routing_key="transport-test")


@pytest.fixture
def server() -> Iterator[PrivateRedis]:
    redis_server = PrivateRedis(persist=True).start()
    try:
        yield redis_server
    finally:
        redis_server.cleanup()


def _consume_unacknowledged(connection: Connection, count: int) -> list:
    with connection.Producer() as producer:
        for number in range(count):
            producer.publish(
                {"n": number}, exchange=QUEUE.exchange, routing_key=QUEUE.routing_key, declare=[QUEUE]
            )
    received: list = []
    consumer = connection.Consumer([QUEUE], callbacks=[lambda _body, message: received.append(message)])
    consumer.qos(prefetch_count=count + 1)  # room for one more: a BRPOP stays pending
    consumer.consume()
    deadline = time.monotonic() + 10
    while len(received) < count and time.monotonic() < deadline:
        with contextlib.suppress(TimeoutError):
            connection.drain_events(timeout=0.5)
    return received


def test_redis_broker_urls_use_the_repaired_transport():
    assert Connection(workers.celery.app.conf.broker_url).transport_cls in ("redis", "amqp", "pyamqp")
    assert isinstance(Connection("redis://127.0.0.1:1/0").transport, broker.Transport)
    assert isinstance(Connection("redis+socket:///tmp/none.sock").transport, broker.Transport)


def test_a_channel_with_a_pending_read_closes_when_its_server_is_gone(server):
    connection = Connection(server.url)
    assert len(_consume_unacknowledged(connection, 3)) == 3
    with contextlib.suppress(TimeoutError):
        connection.drain_events(timeout=0.2)  # leaves a BRPOP outstanding
    channel: Any = connection.default_channel
    assert channel._in_poll

    server.stop()
    # What Celery's consumer does when the broker connection is lost.
    connection.collect(socket_timeout=1)
    connection.close()

    assert channel.closed


def test_a_collected_connection_closes_without_restoring_and_keeps_the_messages(server):
    """The state the worker crashed in: the channel still open, its
    transport already detached from the connection. Before the repair this
    close raised AttributeError ('NoneType' ... 'hostname') and the worker
    exited."""
    connection = Connection(server.url)
    assert len(_consume_unacknowledged(connection, 2)) == 2
    channel: Any = connection.default_channel
    server.stop()
    channel.connection.client = None

    connection.close()

    assert channel.closed
    server.start()
    # Still in Redis's unacked set: delivered again after the visibility timeout.
    assert redis.Redis.from_url(server.url).hlen("unacked") == 2


def test_a_channel_acknowledges_through_one_client_and_a_new_one_once_its_pool_is_replaced(server):
    connection = Connection(server.url)
    try:
        messages = _consume_unacknowledged(connection, 3)
        channel: Any = connection.default_channel
        assert len(messages) == 3
        messages[0].ack()
        client = channel._create_client()
        messages[1].ack()
        assert channel._create_client() is client
        assert client.connection_pool is channel.pool
        # As after a connection error: kombu drops its pools and builds new ones.
        channel._disconnect_pools()
        messages[2].ack()
        replaced = channel._create_client()
        assert replaced is not client
        assert replaced.connection_pool is channel.pool
        assert redis.Redis.from_url(server.url).hlen("unacked") == 0
    finally:
        connection.release()
