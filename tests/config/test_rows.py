"""config/rows.py reads and writes rows as the ORM would, on whichever
database the suite runs (PostgreSQL or SQLite)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from api.models import Job
from billing.models import UsageRecord
from config import rows
from tests.api.helpers import make_job

pytestmark = pytest.mark.django_db


def _read(job_id: object) -> Job:
    sql = f"SELECT {rows.columns(Job)} FROM {rows.table(Job)} WHERE {rows.column(Job, 'id')} = %s"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [rows.prep(Job, "id", job_id)])
        return rows.instance(Job, cursor.fetchone())


def _values(job: Job) -> dict[str, object]:
    return {f.attname: getattr(job, f.attname) for f in Job._meta.concrete_fields}


def test_a_row_read_through_a_cursor_equals_the_orms(alice) -> None:
    job = make_job(
        alice,
        status=Job.Status.SUCCEEDED,
        metadata={"order": "42", "note": "ü"},
        webhook_events=["completed", "started"],
        result={"text": "x = 4", "final_answer": "4", "latex": None},
        started_at=timezone.now() - timedelta(seconds=3),
        completed_at=timezone.now(),
    )

    read = _read(job.pk)

    assert _values(read) == _values(Job.objects.get(pk=job.pk))
    assert not read._state.adding


def test_an_inserted_row_reads_back_the_same_and_gets_its_key(alice) -> None:
    job = Job(user=alice, model="gpt-4o-mini", metadata={"a": "b"}, created_at=timezone.now())
    rows.insert(job)
    assert _values(Job.objects.get(pk=job.pk)) == _values(job)

    other = make_job(alice, status=Job.Status.SUCCEEDED)
    from billing.services import _shared_period

    with transaction.atomic():
        period_id, _ = _shared_period(user_id=alice.pk, at=timezone.now())
        record = rows.insert(
            UsageRecord(job=other, user=alice, period_id=period_id, model="gpt-4o-mini", input_tokens=7)
        )
    assert isinstance(record.pk, int)
    assert UsageRecord.objects.get(pk=record.pk).input_tokens == 7


def _period_and_select(user) -> tuple[int, str]:
    """The user's open period, and a SELECT of its ID by a parameter."""
    from billing.models import BillingPeriod
    from billing.services import _shared_period

    with transaction.atomic():
        period_id, _ = _shared_period(user_id=user.pk, at=timezone.now())
    key = rows.column(BillingPeriod, "id")
    return period_id, f"{key} FROM {rows.table(BillingPeriod)} WHERE {key} = %s"


def test_a_row_inserted_from_a_select_takes_its_value_from_the_row_found(alice) -> None:
    period_id, select = _period_and_select(alice)

    missing = UsageRecord(job=make_job(alice), user=alice, model="gpt-4o-mini", input_tokens=7)
    assert rows.insert_from(missing, select, [period_id + 1000], name="period") is False
    assert missing.pk is None and missing._state.adding
    assert not UsageRecord.objects.filter(job=missing.job).exists()

    found = UsageRecord(job=make_job(alice), user=alice, model="gpt-4o-mini", input_tokens=7)
    assert rows.insert_from(found, select, [period_id], name="period") is True
    assert (found.period_id, found._state.adding) == (period_id, False)
    stored = UsageRecord.objects.get(pk=found.pk)
    assert (stored.job_id, stored.period_id, stored.input_tokens) == (found.job_id, period_id, 7)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a statement sent before is PostgreSQL's")
def test_a_statement_before_the_insert_goes_in_its_round_trip_and_its_rows_are_skipped(alice) -> None:
    period_id, select = _period_and_select(alice)
    record = UsageRecord(job=make_job(alice), user=alice, model="gpt-4o-mini", input_tokens=7)

    with CaptureQueriesContext(connection) as queries:
        inserted = rows.insert_from(
            record, select, [period_id], name="period", before="SELECT %s, 'x'", before_params=[7]
        )

    assert inserted is True
    statements = [query["sql"] for query in queries.captured_queries]
    # Prepared, the two go in one pipeline; with prepared statements off, in one string.
    if getattr(connection, "prepares_statements", False):
        assert len(statements) == 2 and statements[1].startswith("INSERT INTO")
    else:
        assert len(statements) == 1 and "; INSERT INTO" in statements[0]
    assert statements[0].startswith("SELECT 7, 'x'")
    assert record.period_id == period_id and record.pk > 0
    assert UsageRecord.objects.get(pk=record.pk).period_id == period_id


def test_a_related_row_read_by_scalar_subqueries_equals_the_orms(alice, bob) -> None:
    from api.webhooks.models import WebhookAccount
    from api.webhooks.services import webhook_settings_update

    account = webhook_settings_update(
        user=alice, default_url="http://127.0.0.1:9/hook", default_events=["started"]
    )
    # A time too, so a converted non-NULL datetime goes through the subqueries.
    WebhookAccount.objects.filter(pk=account.pk).update(default_url_disabled_at=timezone.now())
    columns = rows.columns_of_one(WebhookAccount, "user", "%s")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns}", [alice.pk] * rows.width(WebhookAccount))
        found = cursor.fetchone()
        cursor.execute(f"SELECT {columns}", [bob.pk] * rows.width(WebhookAccount))
        missing = cursor.fetchone()

    read = rows.instance(WebhookAccount, found)
    expected = WebhookAccount.objects.get(user=alice)
    assert expected.default_url_disabled_at is not None
    assert {f.attname: getattr(read, f.attname) for f in WebhookAccount._meta.concrete_fields} == {
        f.attname: getattr(expected, f.attname) for f in WebhookAccount._meta.concrete_fields
    }
    assert set(missing) == {None}


def test_a_constraint_violation_is_djangos_integrity_error(alice) -> None:
    job = make_job(alice)
    with pytest.raises(IntegrityError), transaction.atomic():
        rows.insert(Job(id=job.pk, user=alice, model="gpt-4o-mini"))


def test_many_rows_read_at_once_equal_the_orms(alice) -> None:
    jobs = [make_job(alice, metadata={"n": str(n)}, completed_at=timezone.now()) for n in range(3)]
    sql = f"SELECT {rows.columns(Job)} FROM {rows.table(Job)} ORDER BY {rows.column(Job, 'created_at')}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql)
        read = rows.instances(Job, cursor.fetchall())
    assert [_values(job) for job in read] == [_values(Job.objects.get(pk=job.pk)) for job in jobs]


def test_a_row_of_the_wrong_width_is_refused(alice) -> None:
    make_job(alice)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {rows.columns(Job)} FROM {rows.table(Job)}")  # noqa: S608
        row = cursor.fetchone()
    with pytest.raises(ValueError, match="columns of Job"):
        rows.instances(Job, [row[:-1]])
