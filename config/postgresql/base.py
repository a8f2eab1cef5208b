"""Django's PostgreSQL backend, with timestamps read by psycopg's C loader
and a cursor whose statements are prepared once per connection.

Django (5.2) reads every `timestamptz` through a subclass of psycopg's
pure-Python loader, to set the time zone it expects: about 3.7 µs a value
against 0.2 µs for the C loader of psycopg[binary], and a poll's one
statement reads 15 such columns (the token's, its user's, the job's and its
usage's). Django ticket #36960: psycopg's C class cannot be subclassed.
This backend registers a loader that parses in C and sets the same time
zone, so the values are those Django's loader gives.

Django binds parameters on the client (one string a statement, which
PostgreSQL parses and plans every time) and prepares nothing. The
statements the product runs on every job and request (config/rows.py) take
`prepared_cursor()` instead: parameters bound on the server and the
statement prepared on the connection's first use of it, so PostgreSQL plans
it once per connection (the claim and the success of a job: about half of
their CPU in PostgreSQL, bench/report.md). DATABASE_PREPARED_STATEMENTS=0
turns it off, for a pooler that cannot keep prepared statements (PgBouncer
before 1.21 in transaction pooling).
https://docs.djangoproject.com/en/5.2/ref/databases/#subclassing-the-built-in-database-backends
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import psycopg
from django.db.backends.postgresql import base, operations
from django.db.backends.postgresql.psycopg_any import register_tzloader
from django.db.backends.utils import CursorWrapper
from psycopg.abc import AdaptContext
from psycopg.adapt import AdaptersMap, Loader
from psycopg.pq import Format
from psycopg.types.datetime import TimestamptzLoader

TIMESTAMPTZ_OID = psycopg.postgres.types["timestamptz"].oid
# psycopg's own map holds its C loader where psycopg[binary] (or [c]) is
# installed, the Python one otherwise.
_FASTEST = psycopg.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT) or TimestamptzLoader


class TzLoader(Loader):
    """Parses with the fastest `timestamptz` loader psycopg has (its C one
    with psycopg[binary]), in the session's time zone, which Django sets to
    `timezone`; then gives the value that zone's tzinfo, as Django's loader
    does (None: a naive value, for USE_TZ=False)."""

    timezone: datetime.tzinfo | None = None

    def __init__(self, oid: int, context: AdaptContext | None = None) -> None:
        super().__init__(oid, context)
        self._load = _FASTEST(oid, context).load

    def load(self, data: Any) -> datetime.datetime:
        value: datetime.datetime = self._load(data)
        # The C loader already gives datetime.timezone.utc for a UTC session:
        # replace() would cost four times the parse.
        if value.tzinfo is self.timezone:
            return value
        return value.replace(tzinfo=self.timezone)


@lru_cache
def _adapters(template: AdaptersMap, timezone: datetime.tzinfo | None) -> AdaptersMap:
    adapters = AdaptersMap(template)
    loader = type("SpecificTzLoader", (TzLoader,), {"timezone": timezone})
    adapters.register_loader(TIMESTAMPTZ_OID, loader)
    return adapters


class PreparedCursor(psycopg.Cursor[Any]):
    """psycopg's cursor, which binds on the server, preparing every
    statement it runs (psycopg keeps the prepared ones per connection, the
    least recently used dropped past `prepared_max`, 100)."""

    def execute(self, query: Any, params: Any = None, *, prepare: bool | None = True, **kwargs: Any) -> Any:
        return super().execute(query, params, prepare=prepare, **kwargs)


class DatabaseOperations(operations.DatabaseOperations):
    def last_executed_query(self, cursor: Any, sql: str, params: Any) -> str:
        if isinstance(cursor, PreparedCursor):
            # Bound on the server: the text with its values, as Django shows
            # a statement where all binding is on the server (debug and
            # captured queries); the text alone if a value cannot be shown.
            try:
                return str(self.compose_sql(sql, params))
            except psycopg.errors.DataError:
                return sql
        return super().last_executed_query(cursor, sql, params)


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

    def get_connection_params(self) -> dict[str, Any]:
        params: dict[str, Any] = super().get_connection_params()
        params["context"] = _adapters(params["context"], self.timezone)
        return params

    @property
    def prepares_statements(self) -> bool:
        """Whether psycopg may prepare on this connection: Django's
        OPTIONS["prepare_threshold"], which settings set from
        DATABASE_PREPARED_STATEMENTS (None, Django's default: never)."""
        return self.settings_dict["OPTIONS"].get("prepare_threshold") is not None

    def prepared_cursor(self) -> CursorWrapper:
        """A cursor for a statement that runs again and again with the same
        text: prepared on this connection the first time, then only bound
        and executed. One statement an `execute` (server-side binding runs
        no string of several). Django's own cursor where nothing is
        prepared (DATABASE_PREPARED_STATEMENTS=0)."""
        if not self.prepares_statements:
            return self.cursor()
        # BaseDatabaseWrapper._cursor, with this cursor class.
        self.close_if_health_check_failed()
        self.ensure_connection()
        with self.wrap_database_errors:
            cursor = PreparedCursor(self.connection)
            # As Django's create_cursor: its loader on the cursor where the
            # connection's time zone is not the one Django expects.
            tzloader = self.connection.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
            if self.timezone != tzloader.timezone:
                register_tzloader(self.timezone, cursor)
            # Django's own wrapping (debug cursor, thread check), as _cursor.
            return self._prepare_cursor(cursor)  # type: ignore[attr-defined]

    @contextmanager
    def prepared_pipeline(self) -> Iterator[None]:
        """The statements a prepared cursor executes inside are sent together
        and answered in one round trip, at the block's end (psycopg's
        pipeline mode). Outside a transaction they are one transaction of
        their own, as PostgreSQL runs the statements before a Sync; an error
        in one rolls them all back, raised as Django's."""
        self.ensure_connection()
        with self.wrap_database_errors, self.connection.pipeline():
            yield
