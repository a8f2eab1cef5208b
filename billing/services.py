"""Writes of the billing app: usage records, and the life cycle of billing
periods (`open -> closed -> paid | overdue`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.exceptions import NotFound

from api.models import Job
from billing.models import BillingPeriod, UsageRecord
from billing.periods import month_bounds
from billing.pricing import job_cost
from config import rows
from config.problems import Problem

Status = BillingPeriod.Status

# pg_advisory_xact_lock keys: one roll (and one overdue marking) at a time.
_ROLL_LOCK = 0x0B111_0001
_OVERDUE_LOCK = 0x0B111_0002


def usage_record_create(
    *,
    job: Job,
    model: str,
    input_tokens: int,
    cached_tokens: int,
    output_tokens: int,
    completed_at: datetime,
) -> UsageRecord:
    """Record what a succeeded job cost. Call it inside the transaction that
    marks the job succeeded; the one-to-one on `job` makes a second record for
    the same job fail, so a job is never billed twice.

    The record joins the period of the month the job completed in, read with
    a KEY SHARE lock (PostgreSQL) held until the job's transaction commits.
    Any number of job transactions hold it at once, and it does not stop the
    UPDATEs of the running totals, so one account's successes never queue
    behind each other. The roll locks the periods it closes FOR UPDATE,
    which conflicts with it: a close either waits for this record to commit
    (and then counts it) or has already committed, in which case we see the
    period closed here and bill the record in the account's current period
    instead. Either way no record escapes a period's frozen totals.

    The period's running totals (what an open period shows to date) are
    added after the commit, in a statement of its own: an UPDATE inside this
    transaction would hold the row until the commit, and every success of
    the account would wait for it. The roll recomputes the totals from the
    records when it closes the period, so a total missed by a worker that
    died between the two is exact again at close.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("usage_record_create must run inside the job's success transaction")
    record = _usage_record(
        job=job,
        model=model,
        input_tokens=input_tokens,
        cached_tokens=cached_tokens,
        output_tokens=output_tokens,
        completed_at=completed_at,
    )
    # Through a cursor, as the job's own writes in this transaction: once per
    # job, where the ORM cost more than the INSERT (config/rows.py).
    if not _insert_in_open_period(record, at=completed_at):
        # The month's period is missing (normally opened by the roll) or a
        # roll closed it first (this transaction straddled the roll).
        period_id, status = _shared_period(user_id=job.user_id, at=completed_at)
        if status != Status.OPEN:
            # A late charge, billed in the period open now.
            period_id, status = _shared_period(user_id=job.user_id, at=timezone.now())
            if status != Status.OPEN:
                raise RuntimeError(f"no open billing period for user {job.user_id} to bill job {job.pk} in")
        record.period_id = period_id
        rows.insert(record)
    _running_totals_add_on_commit(record)
    return record


def usage_record_create_with_success(
    *,
    job: Job,
    success_sql: str,
    success_params: list[Any],
    model: str,
    input_tokens: int,
    cached_tokens: int,
    output_tokens: int,
    completed_at: datetime,
) -> UsageRecord | None:
    """The job's success, its usage record and the period's running totals
    in one statement, without a transaction of its own (PostgreSQL): a
    transaction's BEGIN and COMMIT are two more round trips, on every job,
    and the totals a third. `success_sql` is the job's UPDATE, ending with
    its WHERE clause.

    The statement locks the account's open period of the month of
    `completed_at` as usage_record_create does (KEY SHARE, until it
    commits), and the UPDATE runs only if it holds that lock, so the job is
    succeeded, billed and counted in the totals, or none of them. The
    totals' row is held from their UPDATE to the statement's commit, as
    long as a statement of their own would hold it: another success of the
    account waits for that much, not for a transaction's round trips. None,
    and nothing written, when the period is not open (missing, or closed by
    a roll) or when the UPDATE matches no row: the caller then goes through
    usage_record_create in a transaction, which handles both."""
    if connection.vendor != "postgresql":
        raise RuntimeError("usage_record_create_with_success needs PostgreSQL's data-modifying WITH")
    record = _usage_record(
        job=job,
        model=model,
        input_tokens=input_tokens,
        cached_tokens=cached_tokens,
        output_tokens=output_tokens,
        completed_at=completed_at,
    )
    starts_at, _ = month_bounds(completed_at)
    q = partial(rows.column, BillingPeriod)
    periods = rows.table(BillingPeriod)
    add, add_params = _running_totals_add(record)
    # `period` is read (and locked) by the EXISTS before the job's row is
    # updated; a close holding the period makes it wait, and PostgreSQL then
    # reads the row again as the close left it. `totals` adds the record to
    # the period it locked, only once the job's UPDATE has matched; the
    # record goes in only once both have.
    with_ = (
        f"WITH period AS (SELECT {q('id')} FROM {periods}"  # noqa: S608  (names from the models)
        f" WHERE {q('user')} = %s AND {q('starts_at')} = %s AND {q('status')} = %s FOR KEY SHARE),"
        f" success AS ({success_sql} AND EXISTS (SELECT 1 FROM period) RETURNING 1),"
        f" totals AS (UPDATE {periods} SET {add} FROM period"
        f" WHERE {periods}.{q('id')} = period.{q('id')} AND EXISTS (SELECT 1 FROM success)"
        f" RETURNING {periods}.{q('id')})"
    )
    with_params = [
        record.user_id,
        connection.ops.adapt_datetimefield_value(starts_at),
        Status.OPEN.value,
        *success_params,
        *add_params,
    ]
    select = f"totals.{q('id')} FROM totals"
    if not rows.insert_from(record, select, [], name="period", with_=with_, with_params=with_params):
        return None
    return record


def _usage_record(
    *,
    job: Job,
    model: str,
    input_tokens: int,
    cached_tokens: int,
    output_tokens: int,
    completed_at: datetime,
) -> UsageRecord:
    """The record of what a succeeded job cost, at today's prices (not saved)."""
    cost = job_cost(
        model=model, input_tokens=input_tokens, cached_tokens=cached_tokens, output_tokens=output_tokens
    )
    return UsageRecord(
        job=job,
        user_id=job.user_id,
        model=model,
        input_tokens=input_tokens,
        cached_tokens=cached_tokens,
        output_tokens=output_tokens,
        request_fee_micros=cost.request_fee_micros,
        input_price_per_million=cost.price.input,
        cached_input_price_per_million=cost.price.cached_input,
        output_price_per_million=cost.price.output,
        cost_micros=cost.total_micros,
        created_at=completed_at,
    )


def _running_totals_add(record: UsageRecord) -> tuple[str, list[Any]]:
    """The SET list that adds the record to its period's running totals, and
    its parameters."""
    added = {
        "jobs_count": 1,
        "input_tokens": record.input_tokens,
        "cached_tokens": record.cached_tokens,
        "output_tokens": record.output_tokens,
        "amount_micros": record.cost_micros,
    }
    q = partial(rows.column, BillingPeriod)
    return ", ".join(f"{q(name)} = {q(name)} + %s" for name in added), list(added.values())


def _running_totals_add_on_commit(record: UsageRecord) -> None:
    """Add the record to its period's running totals once it is committed
    (at once outside a transaction), in a statement of its own."""
    q = partial(rows.column, BillingPeriod)
    add, add_params = _running_totals_add(record)
    totals_sql = (
        f"UPDATE {rows.table(BillingPeriod)} SET {add}"  # noqa: S608  (names from the model)
        f" WHERE {q('id')} = %s AND {q('status')} = %s"
    )
    params: list[Any] = [*add_params, record.period_id, Status.OPEN.value]

    def add_to_running_totals() -> None:
        # Only while the period is open: once closed, its totals are the
        # roll's sums of the records, this one included.
        with rows.prepared_cursor() as cursor:
            cursor.execute(totals_sql, params)

    transaction.on_commit(add_to_running_totals, robust=True)


def _insert_in_open_period(record: UsageRecord, *, at: datetime) -> bool:
    """INSERT the record into the account's period for the month of `at` if
    that period is open, reading it with the KEY SHARE lock of
    _shared_period, in one statement. False, and nothing inserted, when the
    period is missing or not open. A close holding the period makes this
    statement wait; PostgreSQL then reads the row again as the close left
    it, so the record never joins a period closed meanwhile."""
    starts_at, _ = month_bounds(at)
    q = partial(rows.column, BillingPeriod)
    lock = " FOR KEY SHARE" if connection.vendor == "postgresql" else ""
    select = (
        f"{q('id')} FROM {rows.table(BillingPeriod)}"
        f" WHERE {q('user')} = %s AND {q('starts_at')} = %s AND {q('status')} = %s{lock}"
    )
    params = [record.user_id, connection.ops.adapt_datetimefield_value(starts_at), Status.OPEN.value]
    return rows.insert_from(record, select, params, name="period")


def _shared_period(*, user_id: int, at: datetime) -> tuple[int, str]:
    """The ID and status of the account's period for the month of `at`,
    created if missing, KEY SHARE-locked until the caller's transaction ends
    (SQLite runs one writer at a time and needs no lock). A period created
    here for a month that has already ended is closed, with this record, by
    the next roll."""
    starts_at, ends_at = month_bounds(at)
    table = BillingPeriod._meta.db_table
    lock = " FOR KEY SHARE" if connection.vendor == "postgresql" else ""
    sql = f"SELECT id, status FROM {table} WHERE user_id = %s AND starts_at = %s{lock}"  # noqa: S608
    params = [user_id, connection.ops.adapt_datetimefield_value(starts_at)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
        if row is None:
            # Normally opened by the roll; a concurrent creation is the
            # constraint's conflict, ignored, and the row read again.
            BillingPeriod.objects.bulk_create(
                [BillingPeriod(user_id=user_id, starts_at=starts_at, ends_at=ends_at)], ignore_conflicts=True
            )
            cursor.execute(sql, params)
            row = cursor.fetchone()
    return int(row[0]), str(row[1])


@dataclass(frozen=True)
class RollResult:
    closed: int
    settled: int
    opened: int


def periods_roll(*, now: datetime) -> RollResult:
    """Close every open period that has ended and open the current one for
    every active account. Four statements, whatever the number of accounts:

    1. close: `open` periods that ended by `now` become `closed`, due
       BILLING_DUE_DAYS later, totals zeroed. The rows are locked FOR UPDATE
       first, which waits for any job transaction still adding a record to
       one of them (each holds its period FOR KEY SHARE, which the UPDATE
       alone would not wait for; see usage_record_create);
    2. freeze totals: one aggregate over the usage records of the periods
       just closed. A new statement, so (in READ COMMITTED) it sees every
       record whose transaction step 1 waited for;
    3. settle: a closed period that owes nothing is paid at once, so an empty
       month can never make an account overdue;
    4. open: INSERT ... SELECT the current month for every active account,
       ON CONFLICT DO NOTHING against the one-period-per-month constraint.

    Idempotent: a second run finds nothing open that has ended and every
    current period present. Two runs at once take turns on an advisory lock
    (PostgreSQL; SQLite's IMMEDIATE transactions serialise writers anyway),
    so their multi-row UPDATEs cannot deadlock on each other."""
    due_at = now + timedelta(days=settings.BILLING_DUE_DAYS)
    starts_at, ends_at = month_bounds(now)
    with transaction.atomic():
        _one_at_a_time(_ROLL_LOCK)
        _lock_ended_periods(now=now)
        closed = BillingPeriod.objects.filter(status=Status.OPEN, ends_at__lte=now).update(
            status=Status.CLOSED,
            closed_at=now,
            due_at=due_at,
            jobs_count=0,
            input_tokens=0,
            cached_tokens=0,
            output_tokens=0,
            amount_micros=0,
        )
        settled = 0
        if closed:
            _freeze_totals(closed_at=now)
            settled = BillingPeriod.objects.filter(
                status=Status.CLOSED, closed_at=now, amount_micros=0
            ).update(status=Status.PAID, paid_at=now)
        opened = _open_periods(starts_at=starts_at, ends_at=ends_at)
    return RollResult(closed=closed, settled=settled, opened=opened)


def _one_at_a_time(key: int) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def _lock_ended_periods(*, now: datetime) -> None:
    if connection.vendor != "postgresql":
        return  # SQLite: one writer at a time
    sql = f"""
        SELECT count(*) FROM (
            SELECT id FROM {BillingPeriod._meta.db_table} WHERE status = %s AND ends_at <= %s FOR UPDATE
        ) AS locked
    """  # noqa: S608 (table name from the model, values as parameters)
    with connection.cursor() as cursor:
        cursor.execute(sql, [Status.OPEN.value, connection.ops.adapt_datetimefield_value(now)])


def _freeze_totals(*, closed_at: datetime) -> None:
    # UPDATE ... FROM (PostgreSQL, SQLite >= 3.33): one pass over the usage
    # records instead of one correlated subquery per total and period.
    period_table = BillingPeriod._meta.db_table
    usage_table = UsageRecord._meta.db_table
    sql = f"""
        UPDATE {period_table} AS p
        SET jobs_count = t.jobs_count, input_tokens = t.input_tokens,
            cached_tokens = t.cached_tokens, output_tokens = t.output_tokens,
            amount_micros = t.amount_micros
        FROM (
            SELECT u.period_id, COUNT(*) AS jobs_count, SUM(u.input_tokens) AS input_tokens,
                   SUM(u.cached_tokens) AS cached_tokens, SUM(u.output_tokens) AS output_tokens,
                   SUM(u.cost_micros) AS amount_micros
            FROM {usage_table} AS u JOIN {period_table} AS c ON c.id = u.period_id
            WHERE c.status = %s AND c.closed_at = %s
            GROUP BY u.period_id
        ) AS t
        WHERE p.id = t.period_id
    """  # noqa: S608 (table names from the models, values as parameters)
    with connection.cursor() as cursor:
        cursor.execute(sql, [Status.CLOSED.value, connection.ops.adapt_datetimefield_value(closed_at)])


def _open_periods(*, starts_at: datetime, ends_at: datetime) -> int:
    user_model = get_user_model()
    sql = f"""
        INSERT INTO {BillingPeriod._meta.db_table}
            (user_id, starts_at, ends_at, status, jobs_count, input_tokens, cached_tokens,
             output_tokens, amount_micros)
        SELECT u.{user_model._meta.pk.column}, %s, %s, %s, 0, 0, 0, 0, 0
        FROM {user_model._meta.db_table} AS u
        WHERE u.{user_model._meta.get_field("is_active").column} = %s
        ON CONFLICT (user_id, starts_at) DO NOTHING
    """  # noqa: S608 (table names from the models, values as parameters)
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(sql, [adapt(starts_at), adapt(ends_at), Status.OPEN.value, True])
        return max(cursor.rowcount, 0)


def periods_mark_overdue(*, now: datetime) -> int:
    """Closed periods still unpaid at their due date become overdue (which
    blocks new jobs). One conditional UPDATE: a period paid meanwhile no
    longer matches once its row lock is released."""
    with transaction.atomic():
        _one_at_a_time(_OVERDUE_LOCK)
        marked = BillingPeriod.objects.filter(status=Status.CLOSED, due_at__lte=now).update(
            status=Status.OVERDUE
        )
        if marked:
            _overdue_flags_sync()
        return marked


def _overdue_flags_sync(*, user_ids: list[int] | None = None) -> None:
    """Bring User.billing_overdue (read with the token on every submission)
    in line with the periods, for `user_ids` or every account. Two
    set-based UPDATEs, in the caller's transaction."""
    users = get_user_model().objects.all()
    if user_ids is not None:
        users = users.filter(pk__in=user_ids)
    overdue = BillingPeriod.objects.filter(status=Status.OVERDUE).values("user_id")
    users.filter(billing_overdue=False, pk__in=overdue).update(billing_overdue=True)
    users.filter(billing_overdue=True).exclude(pk__in=overdue).update(billing_overdue=False)


def periods_mark_paid(*, period_ids: list[int], now: datetime | None = None) -> int:
    """Operators record payment of closed or overdue periods; returns how many
    changed. Paying the last overdue period lifts the account's 402 block."""
    with transaction.atomic():
        # The overdue marker's lock: a period marked overdue at this moment
        # cannot leave its account's flag behind.
        _one_at_a_time(_OVERDUE_LOCK)
        paid = BillingPeriod.objects.filter(
            pk__in=period_ids, status__in=[Status.CLOSED, Status.OVERDUE]
        ).update(status=Status.PAID, paid_at=now or timezone.now())
        if paid:
            _overdue_flags_sync(
                user_ids=list(
                    BillingPeriod.objects.filter(pk__in=period_ids).values_list("user_id", flat=True)
                )
            )
        return paid


def period_mark_paid(*, period_id: int, now: datetime | None = None) -> BillingPeriod:
    """One period paid. Paying a paid period again changes nothing; an open
    period cannot be paid before it is closed."""
    periods_mark_paid(period_ids=[period_id], now=now)
    period = BillingPeriod.objects.filter(pk=period_id).first()
    if period is None:
        raise NotFound("No such billing period.")
    if period.status == Status.OPEN:
        raise Problem(
            status=409,
            slug="billing-period-open",
            detail="The period is still open; it can be paid once it is closed.",
            extra={"period_id": period.pk},
        )
    return period
