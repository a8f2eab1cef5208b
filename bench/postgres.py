"""PostgreSQL helpers shared by the benchmarks."""

from __future__ import annotations

import threading
from typing import Any


def recreate_database(url: str) -> str:
    """Drop and create the database named in `url` (connecting to the
    server's `postgres` database); returns the server's version."""
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[1].split("?")[0]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        server = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return str(server)


def drop_database(url: str) -> None:
    """Drop the database named in `url`, if it exists."""
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[1].split("?")[0]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def database_for_bench(report: Any, url: str, variable: str) -> str | None:
    """Re-create the database named in `url` (from the environment variable
    `variable`) for a bench: the server's version, or None when there is no
    PostgreSQL to use (the report then says why the bench is skipped)."""
    if not url.startswith(("postgres://", "postgresql://")):
        report.skip(f"needs PostgreSQL ({variable})")
        return None
    try:
        return recreate_database(url)
    except Exception as exc:  # any connection problem means "no PostgreSQL here"
        report.skip(f"PostgreSQL unavailable ({type(exc).__name__}: {exc})".strip())
        return None


def with_application_name(url: str, name: str) -> str:
    """`url` with psycopg's `application_name` set to `name`: the connections
    of the processes given this URL are told apart in pg_stat_activity from
    the bench's own (Django's settings pass it on through OPTIONS)."""
    return f"{url}{'&' if '?' in url else '?'}application_name={name}"


class PeakConnections:
    """The most connections to `url`'s server named `application_name` seen
    at once, sampled every `every_s` seconds on a thread of its own while
    the context is open."""

    def __init__(self, url: str, application_name: str, every_s: float = 0.2) -> None:
        self.url = url
        self.application_name = application_name
        self.every_s = every_s
        self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as conn:
            while not self._stop.wait(self.every_s):
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                    [self.application_name],
                ).fetchone()
                self.peak = max(self.peak, int(row[0]) if row else 0)

    def __enter__(self) -> PeakConnections:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
