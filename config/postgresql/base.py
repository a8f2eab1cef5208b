"""Django's PostgreSQL backend, with timestamps read by psycopg's C loader.

Django (5.2) reads every `timestamptz` through a subclass of psycopg's
pure-Python loader, to set the time zone it expects: about 3.7 µs a value
against 0.2 µs for the C loader of psycopg[binary], and a poll's one
statement reads 15 such columns (the token's, its user's, the job's and its
usage's). Django ticket #36960: psycopg's C class cannot be subclassed.
This backend registers a loader that parses in C and sets the same time
zone, so the values are those Django's loader gives.
https://docs.djangoproject.com/en/5.2/ref/databases/#subclassing-the-built-in-database-backends
"""

from __future__ import annotations

import datetime
from functools import lru_cache
from typing import Any

import psycopg
from django.db.backends.postgresql import base
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


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self) -> dict[str, Any]:
        params: dict[str, Any] = super().get_connection_params()
        params["context"] = _adapters(params["context"], self.timezone)
        return params
