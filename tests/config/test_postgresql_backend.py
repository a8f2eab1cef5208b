"""config/postgresql: Django's PostgreSQL backend with timestamps parsed by
psycopg's C loader (the values must be those Django's own loader gives), and
its prepared cursor (rows.prepared_cursor), which must behave as Django's
cursor does but for planning a statement once per connection."""

from __future__ import annotations

import datetime
import zoneinfo
from typing import Any

import psycopg
import pytest
from django.db import DataError, IntegrityError, connection
from django.db.backends.postgresql.psycopg_any import register_tzloader
from django.test.utils import CaptureQueriesContext
from psycopg.pq import Format
from psycopg.types.datetime import TimestamptzLoader

from accounts.models import User
from config import rows
from config.postgresql.base import TIMESTAMPTZ_OID, TzLoader

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the backend is PostgreSQL's"),
]

# Each with its offset, so the session's zone matters; sub-second digits of
# several lengths; a leap day. In UTC, the ends of Python's range too (in
# another zone they fall outside it, for both loaders).
VALUES = [
    "2026-12-02 00:10:43.081123+00",
    "2020-01-01 12:00:00+05",
    "1900-06-01 00:00:00+01:30",
    "2016-12-31 23:59:59.5-08",
    "2024-02-29 12:34:56.1+00",
]
ENDS = ["0001-01-01 00:00:00+00", "9999-12-31 23:59:59.999999+00"]


def _select(values: list[str]) -> str:
    return "SELECT " + ", ".join(f"'{value}'::timestamptz" for value in values) + ", NULL::timestamptz"


def _read_both(zone: datetime.tzinfo, values: list[str]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """The row as this backend's loader reads it, then as Django's does, in
    a session set to `zone`, as Django sets it to the connection's zone."""
    ours = type("Loader", (TzLoader,), {"timezone": zone})
    params = {**connection.get_connection_params(), "autocommit": True}
    with psycopg.connect(**params) as raw:
        raw.execute("SELECT set_config('TimeZone', %s, false)", [str(zone)])
        rows: list[tuple[Any, ...]] = []
        for register in (
            lambda cursor: cursor.adapters.register_loader(TIMESTAMPTZ_OID, ours),
            lambda cursor: register_tzloader(zone, cursor),
        ):
            with raw.cursor() as cursor:
                register(cursor)
                row = cursor.execute(_select(values)).fetchone()
                assert row is not None
                rows.append(row)
    return rows[0], rows[1]


def test_the_connection_reads_timestamps_with_the_backends_loader() -> None:
    connection.ensure_connection()
    loader = connection.connection.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
    assert issubclass(loader, TzLoader)
    assert loader.timezone is connection.timezone
    if psycopg.pq.__impl__ in ("binary", "c"):
        # The point of it: the loader parses in C, not in Python.
        assert psycopg.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT) is not TimestamptzLoader


def test_timestamps_equal_djangos_in_a_utc_session() -> None:
    ours, djangos = _read_both(datetime.UTC, VALUES + ENDS)
    assert ours == djangos
    assert [repr(value) for value in ours] == [repr(value) for value in djangos]
    assert all(value.tzinfo is datetime.UTC for value in ours if value is not None)
    assert ours[-1] is None


def test_timestamps_equal_djangos_in_another_session_zone() -> None:
    """A TIME_ZONE set on the database (Django then sets the session's):
    the same instants, carried in that zone."""
    ours, djangos = _read_both(zoneinfo.ZoneInfo("America/St_Johns"), VALUES)
    assert ours == djangos
    assert [repr(value) for value in ours] == [repr(value) for value in djangos]


def test_a_value_out_of_pythons_range_is_an_error_as_with_djangos_loader() -> None:
    with connection.cursor() as cursor, pytest.raises(DataError):
        cursor.execute("SELECT 'infinity'::timestamptz")
        cursor.fetchone()


def _prepared(text: str) -> list[str]:
    """The statements this connection has prepared that contain `text`."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE statement LIKE %s", [f"%{text}%"])
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.skipif(
    not getattr(connection, "prepares_statements", False), reason="prepared statements off in this run"
)
def test_a_statement_is_prepared_once_and_then_reused() -> None:
    user = User.objects.create_user("prepared@example.com", None)
    sql = "SELECT email, date_joined FROM accounts_user WHERE id = %s /* prepared-once */"
    found = []
    for _ in range(3):
        with rows.prepared_cursor() as cursor:
            cursor.execute(sql, [user.pk])
            found.append(cursor.fetchone())
    assert _prepared("prepared-once") == [
        "SELECT email, date_joined FROM accounts_user WHERE id = $1 /* prepared-once */"
    ]
    # The same row each time, its timestamp read by the backend's loader.
    assert found == [("prepared@example.com", user.date_joined)] * 3
    assert found[0][1].tzinfo is connection.timezone


def test_prepared_statements_turned_off_prepare_nothing(monkeypatch) -> None:
    """As DATABASE_PREPARED_STATEMENTS=0 leaves the connection's options."""
    monkeypatch.setitem(connection.settings_dict, "OPTIONS", {**connection.settings_dict["OPTIONS"]})
    connection.settings_dict["OPTIONS"].pop("prepare_threshold", None)
    assert connection.get_connection_params()["prepare_threshold"] is None
    with rows.prepared_cursor() as cursor:
        cursor.execute("SELECT %s::int /* not-prepared */", [1])
        assert cursor.fetchone() == (1,)
    assert _prepared("not-prepared") == []


def test_a_prepared_statements_errors_are_djangos() -> None:
    """The cursor is wrapped as Django's: psycopg's errors come out as
    django.db's, which the services catch."""
    User.objects.create_user("taken@example.com", None)
    with pytest.raises(IntegrityError):
        rows.insert(User(email="taken@example.com"))


def test_a_prepared_statement_is_seen_by_djangos_query_capture() -> None:
    with CaptureQueriesContext(connection) as captured, rows.prepared_cursor() as cursor:
        cursor.execute("SELECT %s::text /* captured */", ["x"])
    assert len(captured) == 1
    assert "/* captured */" in captured[0]["sql"]
