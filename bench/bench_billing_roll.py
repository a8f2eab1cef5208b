"""One billing roll at scale: 100,000 accounts, each with an open period for
the month that just ended, and 1,000,000 usage records in those periods.
Times the roll (close + freeze totals + settle + open the new month) and
counts its queries. Needs PostgreSQL: DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/imagesolve_bench (dropped and re-created
on every run)."""

from __future__ import annotations

import os
import time
from typing import Any

from bench.postgres import recreate_database

ACCOUNTS = int(os.environ.get("BENCH_BILLING_ACCOUNTS", "100000"))
RECORDS = int(os.environ.get("BENCH_BILLING_RECORDS", "1000000"))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/imagesolve_bench"


def run(report: Any) -> None:
    url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    report.title = "Billing roll (bench_billing_roll)"
    if not url.startswith(("postgres://", "postgresql://")):
        report.skip(f"needs PostgreSQL; DATABASE_URL is {url.split('://')[0]}://…")
        return
    try:
        server = recreate_database(url)
    except Exception as exc:  # any connection problem means "no PostgreSQL here"
        report.skip(f"PostgreSQL unavailable ({type(exc).__name__}: {exc})".strip())
        return

    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-secret-key-0123456789abcdefghijklmnop")
    os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    timings = _load(report)
    _measure(report, server, timings)


def _insert_select(model: Any, overrides: dict[str, str], source: str, params: list[Any]) -> int:
    """INSERT INTO <model> SELECT ... <source>: columns in `overrides` get SQL
    expressions, every other column the model's own default (so fields added
    later with a default need no change here)."""
    from django.db import connection
    from django.db.models import AutoField, BigAutoField

    template = model()
    columns, expressions, values = [], [], []
    for field in model._meta.concrete_fields:
        if field.column in overrides:
            columns.append(field.column)
            expressions.append(overrides[field.column])
        elif isinstance(field, (AutoField, BigAutoField)):
            continue
        else:
            columns.append(field.column)
            expressions.append("%s")
            # pre_save fills auto_now fields as a real save would.
            values.append(field.get_db_prep_save(field.pre_save(template, True), connection))
    statement = (
        f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) SELECT {', '.join(expressions)} {source}"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, values + params)
        return int(cursor.rowcount)


def _load(report: Any) -> list[list[object]]:
    from django.db import connection

    from accounts.models import User
    from api.models import Job
    from billing.models import BillingPeriod, UsageRecord

    per_account = max(RECORDS // ACCOUNTS, 1)
    rows: list[list[object]] = []

    def step(what: str, fn: Any) -> None:
        started = time.perf_counter()
        count = fn()
        rows.append([what, f"{count:,}", f"{time.perf_counter() - started:.1f} s"])

    step(
        "accounts",
        lambda: _insert_select(
            User,
            {"email": "'bench-' || g || '@example.com'", "password": "'!'"},
            "FROM generate_series(1, %s) AS g",
            [ACCOUNTS],
        ),
    )
    step(
        "open periods (February 2026)",
        lambda: _insert_select(
            BillingPeriod,
            {
                "user_id": "u.id",
                "starts_at": "'2026-02-01T00:00:00Z'",
                "ends_at": "'2026-03-01T00:00:00Z'",
            },
            f"FROM {User._meta.db_table} AS u",
            [],
        ),
    )
    step(
        "succeeded jobs",
        lambda: _insert_select(
            Job,
            {
                "id": "gen_random_uuid()",
                "user_id": "u.id",
                "model": "'gpt-4o-mini'",
                "status": "'succeeded'",
                "completed_at": "'2026-02-01T00:00:00Z'::timestamptz + (g * interval '2 days')",
            },
            f"FROM {User._meta.db_table} AS u CROSS JOIN generate_series(1, %s) AS g",
            [per_account],
        ),
    )
    step(
        "usage records",
        lambda: _insert_select(
            UsageRecord,
            {
                "job_id": "j.id",
                "user_id": "j.user_id",
                "period_id": "p.id",
                "model": "j.model",
                "input_tokens": "1000 + (hashtext(j.id::text) & 4095)",
                "cached_tokens": "(hashtext(j.id::text) & 255)",
                "output_tokens": "100 + (hashtext(j.id::text) & 1023)",
                "request_fee_micros": "10000",
                "cost_micros": "10000 + (hashtext(j.id::text) & 65535)",
                "created_at": "j.completed_at",
            },
            f"FROM {Job._meta.db_table} AS j JOIN {BillingPeriod._meta.db_table} AS p "
            "ON p.user_id = j.user_id",
            [],
        ),
    )
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    rows.append(["ANALYZE", "", f"{time.perf_counter() - started:.1f} s"])
    return rows


def _measure(report: Any, server: str, load_rows: list[list[object]]) -> None:
    from datetime import UTC, datetime

    from django.db import connection
    from django.db.models import Sum
    from django.test.utils import CaptureQueriesContext

    from billing.models import BillingPeriod, UsageRecord
    from billing.services import periods_mark_overdue, periods_roll

    now = datetime(2026, 3, 1, 0, 5, tzinfo=UTC)
    results: list[list[object]] = []

    def timed(what: str, fn: Any) -> Any:
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            value = fn()
            elapsed = time.perf_counter() - started
        results.append([what, f"{elapsed:.2f} s", len(queries), value])
        return value

    timed("roll at the month's turn", lambda: periods_roll(now=now))
    timed("roll again (nothing to do)", lambda: periods_roll(now=now))
    later = datetime(2026, 4, 1, tzinfo=UTC)
    timed("mark overdue, past the due date", lambda: periods_mark_overdue(now=later))

    frozen = BillingPeriod.objects.filter(starts_at=datetime(2026, 2, 1, tzinfo=UTC)).aggregate(
        amount=Sum("amount_micros"), jobs=Sum("jobs_count")
    )
    recorded = UsageRecord.objects.aggregate(amount=Sum("cost_micros"))
    agree = frozen["amount"] == recorded["amount"]

    name = connection.settings_dict["NAME"]
    report.line(f"PostgreSQL {server}, database `{name}` (re-created for the run).")
    report.line()
    report.line("Load (INSERT ... SELECT generate_series):")
    report.line()
    report.table(["what", "rows", "time"], load_rows)
    report.table(["operation", "time", "queries", "result"], results)
    report.line(
        f"Frozen totals equal the sum of the usage records: {'yes' if agree else 'NO'} "
        f"({frozen['jobs']:,} jobs, {frozen['amount']:,} µ$)."
    )
    if not agree:
        raise SystemExit("frozen totals disagree with the usage records")
