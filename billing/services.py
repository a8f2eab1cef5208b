"""Writes of the billing app: usage records, and the life cycle of billing
periods (`open -> closed -> paid | overdue`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from rest_framework.exceptions import NotFound

from api.models import Job
from billing.models import BillingPeriod, UsageRecord
from billing.periods import month_bounds
from billing.pricing import job_cost
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

    The record joins the period of the month the job completed in. That
    period's row stays locked (SELECT ... FOR UPDATE) until the job's
    transaction commits, and the roll closes periods with an UPDATE, which
    needs the same row lock: a close either waits for this record to commit
    (and then counts it) or has already committed, in which case we see the
    period closed here and bill the record in the account's current period
    instead. Either way no record escapes a period's frozen totals."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("usage_record_create must run inside the job's success transaction")
    cost = job_cost(
        model=model, input_tokens=input_tokens, cached_tokens=cached_tokens, output_tokens=output_tokens
    )
    period = _locked_period(user_id=job.user_id, at=completed_at)
    if period.status != Status.OPEN:
        # Committed after its month was closed (a transaction that straddled
        # the roll): a late charge, billed in the period open now.
        period = _locked_period(user_id=job.user_id, at=timezone.now())
        if period.status != Status.OPEN:
            raise RuntimeError(f"no open billing period for user {job.user_id} to bill job {job.pk} in")
    record = UsageRecord.objects.create(
        job=job,
        user_id=job.user_id,
        period=period,
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
    # Running totals, so an open period shows its amount to date; the roll
    # recomputes them from the records when it closes the period.
    BillingPeriod.objects.filter(pk=period.pk).update(
        jobs_count=F("jobs_count") + 1,
        input_tokens=F("input_tokens") + input_tokens,
        cached_tokens=F("cached_tokens") + cached_tokens,
        output_tokens=F("output_tokens") + output_tokens,
        amount_micros=F("amount_micros") + cost.total_micros,
    )
    return record


def _locked_period(*, user_id: int, at: datetime) -> BillingPeriod:
    """The account's period for the month of `at`, created if missing, locked
    until the caller's transaction ends. (A period created here for a month
    that has already ended is closed, with this record, by the next roll.)"""
    starts_at, ends_at = month_bounds(at)
    period, _ = BillingPeriod.objects.select_for_update().get_or_create(
        user_id=user_id, starts_at=starts_at, defaults={"ends_at": ends_at}
    )
    return period


@dataclass(frozen=True)
class RollResult:
    closed: int
    settled: int
    opened: int


def periods_roll(*, now: datetime) -> RollResult:
    """Close every open period that has ended and open the current one for
    every active account. Four statements, whatever the number of accounts:

    1. close: `open` periods that ended by `now` become `closed`, due
       BILLING_DUE_DAYS later, totals zeroed. The UPDATE takes each row's
       lock, so it waits for any job transaction still adding a record to
       that period (see usage_record_create);
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
