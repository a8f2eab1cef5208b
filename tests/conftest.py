from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

import api.notifications
from tests.private_servers import PrivateRedis, free_port
from tests.worker_process import WorkerProcess, running_worker


@pytest.fixture(autouse=True)
def _clean_cache() -> Iterator[None]:
    # Throttle counters and notifications must not leak between tests. The
    # cache lives in its own Redis database, so this never drops queued tasks.
    cache.clear()
    yield


@pytest.fixture
def client() -> APIClient:
    return APIClient()


@pytest.fixture
def sent_tasks(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The tasks the code under test sends to the broker (by name, with the
    send's options), captured instead of sent."""
    from workers.celery import app

    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(app, "send_task", lambda name, **options: sent.append({"name": name, **options}))
    return sent


@pytest.fixture
def unreachable_broker(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Publishes go to a closed port on loopback: kombu meets a real refused
    connection."""
    from workers.celery import app

    # Celery reads CELERY_BROKER_URL from the environment before its settings,
    # but keeps the connection and producer pools it made: new ones are made
    # for the dead broker, and monkeypatch puts the suite's back afterwards.
    monkeypatch.setenv("CELERY_BROKER_URL", f"redis://127.0.0.1:{free_port()}/0")
    monkeypatch.setattr(app, "_pool", None)
    monkeypatch.setattr(app.amqp, "_producer_pool", None)
    yield


@pytest.fixture
def celery_worker_process(transactional_db: None) -> Iterator[WorkerProcess]:
    """A real worker process consuming every queue, for end-to-end tests
    (which must use `transactional_db`, so the worker sees committed rows)."""
    with running_worker() as worker:
        yield worker


@pytest.fixture
def private_redis(settings: Any) -> Iterator[PrivateRedis]:
    """The cache (throttles, idempotency locks) and the ?wait notifications
    on a Redis of this test's own, for outage tests to stop and start. The
    broker stays the suite's."""
    server = PrivateRedis().start()
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": server.url}}
    settings.REDIS_URL = server.url
    api.notifications._client.cache_clear()
    api.notifications.listener_reset()
    try:
        yield server
    finally:
        server.cleanup()
        api.notifications._client.cache_clear()
        api.notifications.listener_reset()


@pytest.fixture
def alice(db: None):
    from tests.factories import make_user

    return make_user("alice@example.com")


@pytest.fixture
def bob(db: None):
    from tests.factories import make_user

    return make_user("bob@example.com")


@pytest.fixture
def operator(db: None):
    from tests.factories import make_user

    return make_user("operator@example.com", staff=True)


@pytest.fixture
def alice_token(alice) -> str:
    from tests.factories import make_token

    return make_token(alice)[1]


@pytest.fixture
def bob_token(bob) -> str:
    from tests.factories import make_token

    return make_token(bob)[1]


@pytest.fixture
def alice_client(alice_token: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {alice_token}")
    return api


@pytest.fixture
def bob_client(bob_token: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {bob_token}")
    return api
