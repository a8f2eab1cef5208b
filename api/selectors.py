from __future__ import annotations

import logging
from datetime import datetime
from uuid import UUID

import redis
from django.db import connection
from django.db.models import QuerySet
from rest_framework.exceptions import NotFound

from accounts.models import User
from api.models import Job
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
    job_pk, usage_job = rows.column(Job, "id"), rows.column(UsageRecord, "job")
    sql = (
        f"SELECT {rows.columns(Job, 'j')}, {rows.columns(UsageRecord, 'u')}"  # noqa: S608  (names from the models)
        f" FROM {rows.table(Job)} j LEFT JOIN {rows.table(UsageRecord)} u ON u.{usage_job} = j.{job_pk}"
        f" WHERE j.{job_pk} = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [rows.prep(Job, "id", job_id)])
        row = cursor.fetchone()
    if row is None:
        raise NotFound("No such job.")
    split = rows.width(Job)
    job = rows.instance(Job, row[:split])
    if job.user_id != user.pk:
        raise NotFound("No such job.")
    # As select_related("usage") leaves it: the record, or none to look up.
    usage = None if row[split] is None else rows.instance(UsageRecord, row[split:])
    Job.usage.related.set_cached_value(job, usage)
    return job


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
    return jobs.order_by("-created_at", "-id")


def job_in_flight_count(*, user_id: int, up_to: int | None = None) -> int:
    """One user's queued and running jobs; with `up_to`, counted no further
    (enough for a cap check, and bounded whatever the backlog)."""
    if up_to is None:
        return Job.objects.filter(user_id=user_id, status__in=Job.ACTIVE).count()
    # On every submission: written out, as the ORM spends longer compiling
    # this COUNT over a LIMITed subquery than the database runs it. Quoted
    # identifiers from the model; the values are parameters.
    where = f"{rows.column(Job, 'user')} = %s AND {rows.column(Job, 'status')} IN (%s, %s)"
    sql = f"SELECT COUNT(*) FROM (SELECT 1 FROM {rows.table(Job)} WHERE {where} LIMIT %s) AS t"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [user_id, *Job.ACTIVE, up_to])
        row = cursor.fetchone()
    return int(row[0])


def job_wait_for_user(*, user: User, job_id: UUID | str, seconds: float) -> Job:
    """The job, once it has ended or after `seconds`, whichever comes first.
    Blocks on a Redis subscription, not on database polling: register with
    this process's subscription, read again (a job that ended before that is
    seen here), then wait for the notification its terminal transition
    publishes. Holds a database connection only while it reads. Answers at once,
    with the job as it is, when the user already holds
    JOB_MAX_CONCURRENT_WAITS waiting requests or Redis is unreachable."""
    from api.notifications import JobFinishedSubscription, wait_slot
    from config.admission import admission_released
    from config.database import connection_release

    job = job_get_for_user(user=user, job_id=job_id)
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
