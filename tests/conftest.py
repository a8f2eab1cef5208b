from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

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
def celery_worker_process(transactional_db: None) -> Iterator[WorkerProcess]:
    """A real worker process consuming every queue, for end-to-end tests
    (which must use `transactional_db`, so the worker sees committed rows)."""
    with running_worker() as worker:
        yield worker


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
