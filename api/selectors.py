from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

import redis
from django.db import connection
from django.db.models import QuerySet
from rest_framework.exceptions import NotFound

from accounts.authentication import ReadAlong
from accounts.models import User
from api.models import Job, JobsInFlight
from billing.models import UsageRecord
from config import rows

logger = logging.getLogger(__name__)


def job_get_for_user(*, user: User, job_id: UUID | str) -> Job:
    """One of the user's jobs, with its usage; another user's job is 404,
    like a missing one. Read on every poll of a job, so through a cursor
    (config/rows.py): the ORM took longer to build this read than to run it."""
    # By the primary key alone, and the owner checked here: with the user in
    # the WHERE clause, PostgreSQL could walk the user's (user, ...) index
    # through every one of their jobs to find this one.
    found = _jobs_with_usage(
        f"WHERE j.{rows.column(Job, 'id')} = %s", [rows.prep(Job, "id", job_id)], prepared=True
    )
    return job_owned_by(found, user=user)


def job_owned_by(found: list[Job], *, user: User) -> Job:
    """The job found, if it is the user's; otherwise 404, as for none."""
    if not found or found[0].user_id != user.pk:
        raise NotFound("No such job.")
    return found[0]


def job_read_along(*, job_id: UUID | str) -> ReadAlong:
    """The job and its usage, read in the bearer token's statement
    (accounts.authentication.ReadAlong): a poll of a job is one round trip.
    Loads a list of the job found, none or one, for job_owned_by."""
    select, join = _job_with_usage_sql("j", "ju")
    return ReadAlong(
        select=select,
        join=f"LEFT JOIN {join} ON j.{rows.column(Job, 'id')} = %s",
        params=[rows.prep(Job, "id", job_id)],
        load=_job_along,
    )


# Where a job's key is in a row of its columns (rows.columns).
_JOB_PK_INDEX = Job._meta.concrete_fields.index(Job._meta.pk)


def _job_along(row: Sequence[Any]) -> list[Job]:
    # Every column is NULL when the LEFT JOIN found no job; a job's key never is.
    return _jobs_of_rows([row]) if row[_JOB_PK_INDEX] is not None else []


def _job_with_usage_sql(job: str, usage: str) -> tuple[str, str]:
    """The select list of a job and its usage record, and the FROM item that
    joins them (the usage LEFT JOINed), with `job` and `usage` as aliases."""
    job_pk, usage_job = rows.column(Job, "id"), rows.column(UsageRecord, "job")
    select = f"{rows.columns(Job, job)}, {rows.columns(UsageRecord, usage)}"
    join = (
        f"({rows.table(Job)} {job} LEFT JOIN {rows.table(UsageRecord)} {usage}"
        f" ON {usage}.{usage_job} = {job}.{job_pk})"
    )
    return select, join


def _jobs_with_usage(where: str, params: Sequence[Any], *, prepared: bool = False) -> list[Job]:
    """Jobs read with their usage records in one statement: `where` follows
    the FROM item and names the job table `j`. `prepared` for a statement
    whose text never varies (rows.prepared_cursor); a listing's varies with
    its filters."""
    select, join = _job_with_usage_sql("j", "u")
    with rows.prepared_cursor() if prepared else connection.cursor() as cursor:
        cursor.execute(f"SELECT {select} FROM {join} {where}", params)  # noqa: S608  (names from the models)
        return _jobs_of_rows(cursor.fetchall())


def _jobs_of_rows(found: Sequence[Sequence[Any]]) -> list[Job]:
    """Jobs from rows of _job_with_usage_sql's select list, each with its usage
    cached as select_related("usage") leaves it: the record, or none to look up."""
    split = rows.width(Job)
    jobs = rows.instances(Job, [row[:split] for row in found])
    billed = rows.instances(UsageRecord, [row[split:] for row in found if row[split] is not None])
    usage_of = {usage.job_id: usage for usage in billed}
    for job in jobs:
        Job.usage.related.set_cached_value(job, usage_of.get(job.pk))
    return jobs


# The job list's order: newest first; the ID breaks ties between equal times.
JOB_LIST_ORDERING = ("-created_at", "-id")


def job_list_for_user(
    *,
    user: User,
    statuses: list[str] | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> QuerySet[Job]:
    jobs = Job.objects.filter(user=user).select_related("usage")
    if statuses:
        jobs = jobs.filter(status__in=statuses)
    if created_after is not None:
        jobs = jobs.filter(created_at__gte=created_after)
    if created_before is not None:
        jobs = jobs.filter(created_at__lt=created_before)
    return jobs.order_by(*JOB_LIST_ORDERING)


@dataclass(frozen=True)
class JobListing:
    """One user's jobs, filtered and ordered as JOB_LIST_ORDERING, for DRF's
    CursorPagination (GET /api/v1/jobs). It offers the three things the
    pagination asks of a queryset: `order_by` (the ordering or its reverse),
    `filter` on created_at against the cursor's position, and a slice that
    reads the page. So the cursors, links and ties keep DRF's semantics, and
    a page costs one plain SQL query with each job's usage: through the ORM,
    building the query and the instances took most of the request."""

    user_id: int
    statuses: tuple[str, ...] = ()
    created_after: datetime | None = None
    created_before: datetime | None = None
    oldest_first: bool = False
    # From the cursor: ("<" or ">", created_at as the cursor holds it).
    position: tuple[str, str] | None = None

    def order_by(self, *ordering: str) -> JobListing:
        reverse = tuple(name[1:] if name.startswith("-") else f"-{name}" for name in JOB_LIST_ORDERING)
        if ordering not in (JOB_LIST_ORDERING, reverse):
            raise NotImplementedError(f"jobs are listed by {JOB_LIST_ORDERING}, not {ordering}")
        return replace(self, oldest_first=ordering == reverse)

    def filter(self, **lookup: str) -> JobListing:
        ((name, value),) = lookup.items()
        operators = {"created_at__lt": "<", "created_at__gt": ">"}
        if name not in operators:
            raise NotImplementedError(f"jobs are filtered by the cursor's created_at, not {name}")
        return replace(self, position=(operators[name], value))

    def __getitem__(self, page: slice) -> list[Job]:
        """The jobs from page.start to page.stop (the pagination asks for one
        more than a page, to know whether another follows)."""
        created_at = f"j.{rows.column(Job, 'created_at')}"
        where = [f"j.{rows.column(Job, 'user')} = %s"]
        params: list[Any] = [self.user_id]
        if self.statuses:
            where.append(f"j.{rows.column(Job, 'status')} IN ({', '.join(['%s'] * len(self.statuses))})")
            params += self.statuses
        if self.created_after is not None:
            where.append(f"{created_at} >= %s")
            params.append(rows.prep(Job, "created_at", self.created_after))
        if self.created_before is not None:
            where.append(f"{created_at} < %s")
            params.append(rows.prep(Job, "created_at", self.created_before))
        if self.position is not None:
            # The cursor's text, read as the field reads it (as the ORM's
            # lookup would): a ValidationError for anything but a time.
            operator, value = self.position
            where.append(f"{created_at} {operator} %s")
            params.append(rows.prep(Job, "created_at", value))
        start, stop = page.start or 0, page.stop
        if page.step is not None or stop is None:
            raise NotImplementedError("jobs are read a bounded page at a time")
        direction = "ASC" if self.oldest_first else "DESC"
        order = f"{created_at} {direction}, j.{rows.column(Job, 'id')} {direction}"
        return _jobs_with_usage(
            f"WHERE {' AND '.join(where)} ORDER BY {order} LIMIT %s OFFSET %s", [*params, stop - start, start]
        )


def job_listing_for_user(
    *,
    user: User,
    statuses: list[str] | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> JobListing:
    """The user's jobs for GET /api/v1/jobs (job_list_for_user, read a page
    at a time by the cursor pagination)."""
    return JobListing(
        user_id=user.pk,
        statuses=tuple(statuses or ()),
        created_after=created_after,
        created_before=created_before,
    )


def job_in_flight_below(*, user_id: int, limit: int) -> tuple[str, list[Any]]:
    """A WHERE clause, and its parameters, that holds while the user has
    fewer than `limit` jobs queued or running: for the INSERT ... SELECT that
    admits a submission under the cap in the same statement. It reads the
    user's row of JobsInFlight, which triggers keep (a user without one has
    none in flight): one indexed row, where counting the jobs cost in
    proportion to how many were in flight, under the submission's lock.
    Written out, as the ORM spends longer compiling it than the database
    runs it; quoted identifiers from the model, the values are parameters."""
    jobs = f"SELECT {rows.column(JobsInFlight, 'jobs')} FROM {rows.table(JobsInFlight)}"  # noqa: S608
    return f"WHERE COALESCE(({jobs} WHERE {rows.column(JobsInFlight, 'user')} = %s), 0) < %s", [
        user_id,
        limit,
    ]


def job_wait_for_user(
    *, user: User, job_id: UUID | str, seconds: float, found: list[Job] | None = None
) -> Job:
    """The job, once it has ended or after `seconds`, whichever comes first.
    Blocks on a Redis subscription, not on database polling: register with
    this process's subscription, read again (a job that ended before that is
    seen here), then wait for the notification its terminal transition
    publishes. Holds a database connection only while it reads. Answers at once,
    with the job as it is, when the user already holds
    JOB_MAX_CONCURRENT_WAITS waiting requests or Redis is unreachable.
    `found` is the first read when it was made already (job_read_along)."""
    from api.notifications import JobFinishedSubscription, wait_slot
    from config.admission import admission_released
    from config.database import connection_release

    job = job_get_for_user(user=user, job_id=job_id) if found is None else job_owned_by(found, user=user)
    if seconds <= 0 or job.is_terminal:
        return job
    # Before the Redis round trips too: many waiters arriving at once would
    # otherwise hold the pool's connections through them, and queue on it.
    connection_release()
    try:
        with wait_slot(user.pk) as granted:
            if not granted:
                return job
            with JobFinishedSubscription(job.pk) as subscription:
                job = job_get_for_user(user=user, job_id=job_id)
                if job.is_terminal:
                    return job
                connection_release()
                with admission_released():
                    subscription.wait(seconds)
    except redis.RedisError as exc:
        # One line, no traceback: an outage under load would bury the log.
        logger.warning("?wait on job %s without Redis (%s): answered at once", job_id, type(exc).__name__)
    return job_get_for_user(user=user, job_id=job_id)
