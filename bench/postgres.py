"""PostgreSQL helpers shared by the benchmarks."""

from __future__ import annotations

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
