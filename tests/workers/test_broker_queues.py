"""workers.broker.queues_empty: what the requeue task asks the broker before
it publishes a never-claimed job again early. On a Redis of the test's own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from celery import Celery
from kombu import Exchange, Queue

from tests.private_servers import PrivateRedis
from workers import broker


@pytest.fixture
def app() -> Iterator[Celery]:
    server = PrivateRedis().start()
    celery_app = Celery("queues-test", broker=server.url)
    celery_app.conf.broker_connection_retry_on_startup = False
    celery_app.conf.broker_connection_max_retries = 0
    celery_app.server = server  # type: ignore[attr-defined]
    try:
        yield celery_app
    finally:
        server.cleanup()


def _publish(app: Celery, queue: str) -> None:
    target = Queue(queue, Exchange(queue), routing_key=queue)
    with app.connection_for_write() as connection, connection.Producer() as producer:
        producer.publish({"job": "x"}, exchange=target.exchange, routing_key=queue, declare=[target])


def test_queues_never_used_are_empty(app) -> None:
    assert broker.queues_empty(app, ["solve", "local"])


def test_a_waiting_message_makes_them_not_empty(app) -> None:
    _publish(app, "solve")
    assert not broker.queues_empty(app, ["solve", "local"])

    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge("solve")
    assert broker.queues_empty(app, ["solve", "local"])


def test_a_broker_that_cannot_be_asked_is_not_taken_for_empty(app) -> None:
    app.server.stop()
    assert not broker.queues_empty(app, ["solve", "local"])
