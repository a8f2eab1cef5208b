"""While the database is unreachable, requests answer 503 (problem+json
under /api/, a plain page in the admin) with Retry-After, never 500, and log
one warning line instead of a traceback.

The request's `default` connection is swapped for a PostgreSQL one pointed
at a server that is not there: a closed port (connection refused), or a
private initdb'd server stopped under an open connection (as in a restart).
Whatever engine the suite runs on, the request meets a real driver error."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import kombu.exceptions
import pytest
import redis
from django.db import IntegrityError, InterfaceError, OperationalError, ProgrammingError, connections
from django.db.backends.postgresql.base import DatabaseWrapper

from config.problems import unavailable_dependency
from tests.private_servers import PrivatePostgres, free_port, postgres_binaries
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db


def _postgres_settings(port: int) -> dict[str, object]:
    settings = dict(connections["default"].settings_dict)
    settings.update(
        ENGINE="django.db.backends.postgresql",
        NAME="postgres",
        USER="postgres",
        PASSWORD="",
        HOST="127.0.0.1",
        PORT=str(port),
        OPTIONS={"connect_timeout": 2},
        CONN_MAX_AGE=60,
        CONN_HEALTH_CHECKS=False,
    )
    return settings


def _swapped_default(port: int) -> Iterator[DatabaseWrapper]:
    original = connections["default"]
    wrapper = DatabaseWrapper(_postgres_settings(port), alias="default")
    connections["default"] = wrapper
    try:
        yield wrapper
    finally:
        wrapper.close()
        connections["default"] = original


@pytest.fixture
def refused_database() -> Iterator[DatabaseWrapper]:
    yield from _swapped_default(free_port())


@pytest.fixture
def restarted_database() -> Iterator[DatabaseWrapper]:
    binaries = postgres_binaries()
    if binaries is None:
        pytest.skip("initdb/pg_ctl not found: no private PostgreSQL to stop")
    server = PrivatePostgres(binaries).init().start()
    try:
        for wrapper in _swapped_default(server.port):
            wrapper.ensure_connection()
            with wrapper.cursor() as cursor:
                cursor.execute("SELECT 1")
            server.stop()  # fast shutdown: the open connection is cut
            yield wrapper
    finally:
        server.cleanup()


def _assert_database_unavailable(response, settings) -> None:
    body = assert_problem(response, 503, "service-unavailable")
    assert body["dependency"] == "database"
    assert response["Retry-After"] == str(settings.DEPENDENCY_RETRY_AFTER_S)


def test_api_requests_answer_503_when_the_database_refuses_connections(
    client, refused_database, settings, caplog
) -> None:
    client.credentials(HTTP_AUTHORIZATION="Bearer tok_anything")
    with caplog.at_level(logging.WARNING):
        _assert_database_unavailable(client.get("/api/v1/jobs"), settings)
        _assert_database_unavailable(
            client.post("/api/v1/solve", {"image": "aGVsbG8="}, format="json"), settings
        )
    # One warning line per request, no traceback, nothing at ERROR.
    assert [r.levelname for r in caplog.records] == ["WARNING", "WARNING"]
    assert all(r.exc_info is None and "database unavailable" in r.getMessage() for r in caplog.records)


def test_a_session_request_answers_503_when_the_database_refuses_connections(
    client, refused_database, settings
) -> None:
    # The session is loaded by middleware-made lazy objects, outside DRF's
    # own exception handling.
    client.cookies[settings.SESSION_COOKIE_NAME] = "a" * 32
    _assert_database_unavailable(client.get("/api/v1/accounts/me"), settings)


def test_the_admin_answers_a_503_page_when_the_database_refuses_connections(
    client, refused_database, settings, caplog
) -> None:
    client.cookies[settings.SESSION_COOKIE_NAME] = "a" * 32
    # The error escapes the admin view into Django's handler500, which the
    # test client would re-raise instead of rendering.
    client.raise_request_exception = False
    with caplog.at_level(logging.WARNING):
        response = client.get("/admin/")
    assert response.status_code == 503
    assert response["Retry-After"] == str(settings.DEPENDENCY_RETRY_AFTER_S)
    assert response["Content-Type"].startswith("text/html")
    assert b"database" in response.content
    assert [r.levelname for r in caplog.records] == ["WARNING"]


def test_api_requests_answer_503_when_the_database_restarts_under_an_open_connection(
    client, restarted_database, settings
) -> None:
    client.credentials(HTTP_AUTHORIZATION="Bearer tok_anything")
    _assert_database_unavailable(client.get("/api/v1/jobs"), settings)
    _assert_database_unavailable(client.get("/api/v1/jobs"), settings)


def test_only_connection_level_errors_mean_a_dependency_is_unavailable() -> None:
    # An IntegrityError or a Redis ResponseError escaping a view is a bug and
    # must stay visible as one (500, logged with its traceback).
    assert unavailable_dependency(OperationalError("connection refused")) == "database"
    assert unavailable_dependency(InterfaceError("connection already closed")) == "database"
    assert unavailable_dependency(redis.ConnectionError("refused")) == "redis"
    assert unavailable_dependency(redis.BusyLoadingError("loading")) == "redis"
    assert unavailable_dependency(kombu.exceptions.OperationalError("refused")) == "broker"
    assert unavailable_dependency(IntegrityError("duplicate key")) is None
    assert unavailable_dependency(ProgrammingError("no such relation")) is None
    assert unavailable_dependency(redis.ResponseError("WRONGTYPE")) is None
    assert unavailable_dependency(RuntimeError("boom")) is None
