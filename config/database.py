"""The database connection of the current thread, given back while it waits."""

from __future__ import annotations

from django.db import connection


def connection_release() -> None:
    """With a connection pool (DATABASE_POOL), give this thread's connection
    back before a long wait with no query (a call to the model, a `?wait=`
    request blocked on Redis): the pool, not the number of threads, then
    bounds the connections, and the next query takes one again. Without a
    pool the connection is kept, as reopening it costs more than the wait
    saves. Never inside a transaction."""
    if getattr(connection, "pool", None) is not None and not connection.in_atomic_block:
        connection.close()
