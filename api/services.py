"""Writes of the jobs domain. Every state change is a conditional UPDATE on
the job's current status: whoever updates the row owns the transition, and
anyone else (a redelivered task, a duplicate, the recovery task, a cancel)
sees 0 rows and leaves the job alone. Terminal states never change again."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from contextlib import nullcontext, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from uuid import UUID

import redis
from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import User
from api import events
from api.images import ValidatedImage, image_validate
from api.models import Job, JobsInFlight
from api.notifications import job_finished_notify
from api.selectors import job_in_flight_below
from api.webhooks.models import WebhookAccount
from billing.selectors import overdue_period_for_user
from billing.services import usage_record_create, usage_record_create_with_success
from config import rows
from config.problems import Problem
from workers.publish import task_publish_on_commit

logger = logging.getLogger(__name__)

SOLVE_TASK_NAME = "workers.tasks.solve.solve_job_task"
# SOLVER=local or auto: the local solver's task, on its own CPU-bound queue.
LOCAL_TASK_NAME = "workers.tasks.local.solve_local_task"
# A retry's countdown message that has not started its job this long after it
# was due is taken for lost, and the requeue task publishes the job again.
RETRY_MESSAGE_GRACE_S = 30


@dataclass(frozen=True)
class Submission:
    job: Job
    # True when an Idempotency-Key matched an earlier request: nothing new
    # was created and the original job is returned.
    replayed: bool


def job_publish(*, job_id: UUID | str, request_id: str = "", task_name: str | None = None) -> None:
    """Send the job to a worker once the current transaction commits: the
    local queue with SOLVER=local or auto, else the solve queue. If the
    publish fails (the broker is down) the job is still accepted: it stays
    queued with its published_at moved back, and the requeue sweep's next run
    (every minute) publishes it again."""
    if task_name is None:
        task_name = LOCAL_TASK_NAME if settings.SOLVER in ("local", "auto") else SOLVE_TASK_NAME

    def leave_to_the_sweep() -> None:
        due = timezone.now() - timedelta(seconds=settings.JOB_REQUEUE_AFTER_S + 1)
        Job.objects.filter(pk=job_id, status=Job.Status.QUEUED).update(published_at=due)

    task_publish_on_commit(
        task_name, args=[str(job_id)], request_id=request_id, on_failure=leave_to_the_sweep
    )


def _fingerprint(*, image: ValidatedImage, fields: dict[str, Any]) -> str:
    canonical = json.dumps({"image": image.sha256, **fields}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _check_not_overdue(user: User) -> None:
    # The flag came with the token lookup; the period is read only to name it.
    if not user.billing_overdue:
        return
    period = overdue_period_for_user(user_id=user.pk)
    if period is not None:
        month = f"{period.starts_at:%Y-%m}"
        raise Problem(
            status=402,
            slug="payment-required",
            detail=f"The billing period {month} (id {period.pk}) is overdue; pay it to submit new jobs.",
            extra={"period": {"id": period.pk, "month": month}},
        )


def _too_many_in_flight() -> Problem:
    return Problem(
        status=429,
        slug="too-many-jobs-in-flight",
        detail=(
            f"You have {settings.JOB_MAX_IN_FLIGHT} jobs queued or running; "
            "wait for some to finish before submitting more."
        ),
        extra={"limit": settings.JOB_MAX_IN_FLIGHT},
        headers={"Retry-After": str(settings.JOB_IN_FLIGHT_RETRY_AFTER_S)},
    )


def _in_flight_lock_sql() -> str:
    """The statement that locks the user's row of JobsInFlight (its user ID
    the one parameter) until the transaction ends, making it first if the
    user has none: an upsert, as a SELECT ... FOR UPDATE locks nothing that
    is not there yet. That row, not the user's: the triggers of a job that
    ends lock it too, and a lock on the user's row would also stop the key
    check of the job's commit (FOR KEY SHARE, on every row referring to the
    user) while waiting on this one: a deadlock. Written out: it runs on
    every submission."""
    table, user, jobs = (
        rows.table(JobsInFlight),
        rows.column(JobsInFlight, "user"),
        rows.column(JobsInFlight, "jobs"),
    )
    return (
        f"INSERT INTO {table} ({user}, {jobs}) VALUES (%s, 0) "  # noqa: S608
        f"ON CONFLICT ({user}) DO UPDATE SET {jobs} = {table}.{jobs}"
    )


def _replay_or_conflict(*, user: User, key: str, fingerprint: str) -> Job | None:
    """The job an earlier request with this key created, if it is still within
    the idempotency window; 422 if that request was a different one."""
    existing = Job.objects.filter(user=user, idempotency_key=key).first()
    if existing is None:
        return None
    if existing.created_at < timezone.now() - timedelta(seconds=settings.JOB_IDEMPOTENCY_TTL_S):
        # Expired: free the key for this new request.
        Job.objects.filter(pk=existing.pk, idempotency_key=key).update(idempotency_key="")
        return None
    if existing.request_fingerprint != fingerprint:
        raise Problem(
            status=422,
            slug="idempotency-key-reused",
            detail="This Idempotency-Key was used with a different request.",
        )
    return existing


def _key_in_use() -> Problem:
    return Problem(
        status=409,
        slug="idempotency-key-in-use",
        detail="A request with this Idempotency-Key is still being processed; retry shortly.",
        headers={"Retry-After": "1"},
    )


def job_submit(
    *,
    user: User,
    image: bytes,
    prompt: str = "",
    model: str = "",
    detail: str = Job.Detail.AUTO,
    metadata: dict[str, str] | None = None,
    webhook_url: str = "",
    webhook_events: list[str] | None = None,
    idempotency_key: str = "",
    request_id: str = "",
) -> Submission:
    """Validate and store the image, create the job as queued and publish it
    after commit. Raises Problem: 402 overdue account, 400/413 bad image,
    409/422 Idempotency-Key misuse, 429 too many jobs in flight."""
    _check_not_overdue(user)
    validated = image_validate(image)
    fields = {
        "prompt": prompt,
        "model": model or settings.OPENAI_MODEL,
        "detail": detail,
        "metadata": metadata or {},
        "webhook_url": webhook_url,
        "webhook_events": sorted(set(webhook_events or ["completed"])),
    }
    fingerprint = _fingerprint(image=validated, fields=fields)

    lock_key = ""
    if idempotency_key:
        # Two requests with the same key at once: the second is told to
        # retry instead of racing the first to the unique constraint.
        lock_key = f"jobs:idempotency:{user.pk}:{hashlib.sha256(idempotency_key.encode()).hexdigest()}"
        if not cache.add(lock_key, request_id or "1", timeout=60):
            raise _key_in_use()
    try:
        if idempotency_key:
            original = _replay_or_conflict(user=user, key=idempotency_key, fingerprint=fingerprint)
            if original is not None:
                return Submission(job=original, replayed=True)
        job = _job_create(
            user=user,
            image=validated,
            fields=fields,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
            request_id=request_id,
        )
        return Submission(job=job, replayed=False)
    finally:
        if lock_key:
            # The job may be stored by now: a Redis error here must not turn
            # its 202 into a 503. The lock expires by itself.
            with suppress(redis.ConnectionError, redis.TimeoutError):
                cache.delete(lock_key)


def _job_create(
    *,
    user: User,
    image: ValidatedImage,
    fields: dict[str, Any],
    idempotency_key: str,
    fingerprint: str,
    request_id: str,
) -> Job:
    now = timezone.now()
    job = Job(
        user=user,
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint,
        request_id=request_id,
        image_format=image.format.lower(),
        image_bytes=len(image.data),
        image_width=image.width,
        image_height=image.height,
        created_at=now,
        published_at=now,
        **fields,
    )
    # Stored before the row exists: a worker never sees a job without its
    # image. If the row then fails, the file is removed again.
    job.image.save(f"input.{image.extension}", ContentFile(image.data), save=False)
    try:
        # The job goes in only while the user has fewer than JOB_MAX_IN_FLIGHT
        # queued or running, as the INSERT itself reads them (JobsInFlight,
        # which the INSERT's trigger then counts the job into). One user's
        # submissions are serialised, so concurrent ones cannot all pass the
        # cap at once: on PostgreSQL by a lock on that row, sent with
        # the INSERT in one round trip (the INSERT's snapshot is taken once the
        # lock is held, so it sees every earlier submission of the user); on
        # SQLite by its IMMEDIATE transactions, which run one writer at a
        # time. On every submission: a cursor, not the ORM (config/rows.py).
        below_cap = job_in_flight_below(user_id=user.pk, limit=settings.JOB_MAX_IN_FLIGHT)
        postgresql = connection.vendor == "postgresql"
        lock, lock_params = (_in_flight_lock_sql(), [user.pk]) if postgresql else ("", [])
        # On PostgreSQL outside a transaction, the two are one transaction of
        # their own (rows.insert_from): one round trip, and the lock is held
        # for as long as the INSERT runs, not for the client's turns between
        # BEGIN, the lock, the INSERT and COMMIT. Otherwise SQLite's IMMEDIATE
        # transaction, or inside a caller's transaction a savepoint, so that a
        # failed INSERT rolls back this alone.
        own_transaction = postgresql and not connection.in_atomic_block
        with nullcontext() if own_transaction else transaction.atomic():
            admitted = rows.insert_from(job, *below_cap, before=lock, before_params=lock_params)
        if not admitted:
            raise _too_many_in_flight()
        job_publish(job_id=job.id, request_id=request_id)
    except IntegrityError:
        job.image.delete(save=False)
        if idempotency_key and Job.objects.filter(user=user, idempotency_key=idempotency_key).exists():
            # The unique (user, idempotency_key) caught a concurrent twin.
            raise _key_in_use() from None
        raise
    except BaseException:
        job.image.delete(save=False)
        raise
    return job


def _finished(job_id: UUID | str, event_type: str, *, job: Job | None = None) -> Job:
    """Inside the transition's transaction (or after its one statement,
    when it records no event): announce it to webhooks and, after commit,
    wake up requests waiting on the job. `job`: the row as the transition
    left it, when the caller has it (no need to read it again)."""
    if job is None:
        job = Job.objects.select_related("user").get(pk=job_id)
    events.job_event_publish(job=job, event_type=event_type)
    transaction.on_commit(lambda: job_finished_notify(job_id), robust=True)
    return job


def _lost_its_worker(now: datetime) -> Q:
    """Running jobs whose run is over without an outcome: the lease was not
    renewed (its worker died or lost the database) or the deadline passed."""
    return Q(status=Job.Status.RUNNING) & (Q(lease_expires_at__lt=now) | Q(deadline_at__lt=now))


def job_attempts_exhausted(attempts: int) -> bool:
    """No attempt is left after `attempts` runs were claimed (each claim
    counts one; JOB_MAX_ATTEMPTS caps the calls to the model)."""
    return attempts >= settings.JOB_MAX_ATTEMPTS


def job_mark_running(*, job_id: UUID | str, task_id: str) -> Job | None:
    """Claim the job for the run `task_id`, with a lease of JOB_LEASE_S that
    the worker renews while the run lasts (`job_leases_renew`). A queued job
    can be claimed; so can a running one whose claimant is this same message
    (redelivered because its worker died: RabbitMQ does so at once) or whose
    lease or deadline ran out. None: the job is not ours to run.

    One statement claims the row and reads it with the account's webhook
    settings, which the run's events need (config/rows.py: this runs once
    per job, where the ORM's query building cost more than the queries)."""
    now = timezone.now()
    q = partial(rows.column, Job)
    at = connection.ops.adapt_datetimefield_value
    running, queued = Job.Status.RUNNING.value, Job.Status.QUEUED.value
    account = rows.columns_of_one(WebhookAccount, "user", f"{rows.table(Job)}.{q('user')}")
    # The WHERE clause is _lost_its_worker's rule with the two claimable states.
    update = (
        f"UPDATE {rows.table(Job)} SET {q('status')} = %s,"  # noqa: S608  (names from the model)
        f" {q('started_at')} = COALESCE({q('started_at')}, %s), {q('deadline_at')} = %s,"
        f" {q('lease_expires_at')} = %s, {q('attempts')} = {q('attempts')} + 1,"
        f" {q('worker_task_id')} = %s, {q('updated_at')} = %s"
        f" WHERE {q('id')} = %s AND ({q('status')} = %s"
        f" OR ({q('status')} = %s AND {q('worker_task_id')} = %s)"
        f" OR ({q('status')} = %s AND ({q('lease_expires_at')} < %s OR {q('deadline_at')} < %s)))"
    )
    returning = f" RETURNING {rows.columns(Job)}, {account}"
    params = [
        running,
        at(now),
        at(now + timedelta(seconds=settings.JOB_RUN_DEADLINE_S)),
        at(now + timedelta(seconds=settings.JOB_LEASE_S)),
        task_id,
        at(now),
        rows.prep(Job, "id", job_id),
        queued,
        running,
        task_id,
        running,
        at(now),
        at(now),
    ]
    if connection.vendor == "postgresql":
        # A claim that records no event needs no transaction (BEGIN and
        # COMMIT are two round trips, on every job): the UPDATE alone, only
        # for a job whose start cannot be news to a webhook. None: not
        # claimable, or `job.started` may be due; the transaction below
        # decides.
        silent = events.job_start_unwanted_sql(rows.table(Job))
        row = _claim_row(f"{update} AND ({q('started_at')} IS NOT NULL OR {silent}){returning}", params)
        if row is not None:
            return _claimed(row)
    with transaction.atomic():
        row = _claim_row(update + returning, params)
        if row is None:
            return None
        job = _claimed(row)
        if job.started_at == now:
            # First start only: a retry or a redelivery is not news.
            events.job_event_publish(job=job, event_type=events.STARTED)
    return job


def _claim_row(sql: str, params: list[Any]) -> tuple[Any, ...] | None:
    with rows.prepared_cursor() as cursor:
        cursor.execute(sql, params)
        row: tuple[Any, ...] | None = cursor.fetchone()
    return row


def _claimed(row: tuple[Any, ...]) -> Job:
    """The job as its claim returned it, with the account's webhook settings
    (all NULLs where it has none), which its events need
    (webhook_deliveries_create_for_event)."""
    width = rows.width(Job)
    job = rows.instance(Job, row[:width])
    account = row[width:]
    has_account = any(value is not None for value in account)
    job.webhook_account = rows.instance(WebhookAccount, account) if has_account else None
    job.webhook_account_loaded = True
    return job


def job_leases_renew(*, claims: list[tuple[str, str]]) -> int:
    """Extend the leases of the runs a worker holds, as (job ID, task ID)
    pairs; one UPDATE for all of them. A run that lost its claim (the job was
    taken back, canceled or finished) is not extended. Returns how many were."""
    if not claims:
        return 0
    now = timezone.now()
    held = Q()
    for job_id, task_id in claims:
        held |= Q(pk=job_id, worker_task_id=task_id)
    return Job.objects.filter(held, status=Job.Status.RUNNING).update(
        lease_expires_at=now + timedelta(seconds=settings.JOB_LEASE_S)
    )


def job_mark_succeeded(
    *,
    job: Job,
    task_id: str,
    result: dict[str, Any],
    model: str,
    input_tokens: int,
    cached_tokens: int,
    output_tokens: int,
) -> bool:
    """Store the answer and bill it, atomically: the job is succeeded and
    billed, or neither (one statement where it can, else one transaction).
    `job` is the row as job_mark_running returned it; it is brought up to
    date here rather than read again. False: the run lost its claim
    (canceled, or taken over), and its answer is discarded unbilled."""
    now = timezone.now()
    outcome = {
        "status": Job.Status.SUCCEEDED,
        # Who answered: the model's name, or "local".
        "model": model,
        "result": result,
        "error_code": "",
        "error_message": "",
        "completed_at": now,
        "updated_at": now,
    }
    q = partial(rows.column, Job)
    sql = (
        f"UPDATE {rows.table(Job)} SET "  # noqa: S608  (names from the model)
        + ", ".join(f"{q(name)} = %s" for name in outcome)
        + f" WHERE {q('id')} = %s AND {q('status')} = %s AND {q('worker_task_id')} = %s"
    )
    params = [rows.prep(Job, name, value) for name, value in outcome.items()]
    params += [rows.prep(Job, "id", job.pk), Job.Status.RUNNING.value, task_id]
    billing: dict[str, Any] = {
        "model": model,
        "input_tokens": input_tokens,
        "cached_tokens": cached_tokens,
        "output_tokens": output_tokens,
        "completed_at": now,
    }
    postgresql = connection.vendor == "postgresql"
    if postgresql and not events.job_event_wanted(job=job, event_type=events.SUCCEEDED):
        # No webhook delivery to record with it: the UPDATE and the usage
        # record go in one statement, three round trips fewer. None when the
        # claim was lost or the period is not open; the transaction below
        # tells the two apart.
        usage = usage_record_create_with_success(job=job, success_sql=sql, success_params=params, **billing)
        if usage is not None:
            for name, value in outcome.items():
                setattr(job, name, value)
            job.usage = usage
            _finished(job.pk, events.SUCCEEDED, job=job)
            return True
    with transaction.atomic():
        # A cursor, not the ORM: once per job (config/rows.py).
        with rows.prepared_cursor() as cursor:
            cursor.execute(sql, params)
            updated = cursor.rowcount
        if not updated:
            return False
        # The claim held, so nobody else changed the row meanwhile (but the
        # lease renewals, which no reader shows).
        for name, value in outcome.items():
            setattr(job, name, value)
        # Billed before the event is recorded, so the event's payload shows
        # the usage just as GET /api/v1/jobs/{id} does.
        job.usage = usage_record_create(job=job, **billing)
        _finished(job.pk, events.SUCCEEDED, job=job)
    return True


def job_mark_failed(*, job_id: UUID | str, code: str, message: str, task_id: str | None = None) -> bool:
    """End the job as failed (not billed). With `task_id`, only if that run
    still holds it."""
    now = timezone.now()
    claim = Q(status=Job.Status.RUNNING, worker_task_id=task_id) if task_id else Q(status__in=Job.ACTIVE)
    with transaction.atomic():
        updated = Job.objects.filter(claim, pk=job_id).update(
            status=Job.Status.FAILED,
            error_code=code,
            error_message=message[:2000],
            completed_at=now,
            updated_at=now,
        )
        if not updated:
            return False
        _finished(job_id, events.FAILED)
    return True


def job_mark_failed_internally(*, job_id: UUID | str, task_id: str) -> bool:
    """A run hit a bug or a broken dependency (no price for the model,
    storage): retrying would do the same again, and leaving the job running
    would let recovery do just that. The job fails now, if the run still
    holds it; the client sees `internal_error`, never the exception."""
    logger.exception("job %s failed with an unexpected error", job_id)
    return job_mark_failed(
        job_id=job_id,
        task_id=task_id,
        code="internal_error",
        message="The job failed because of an internal error.",
    )


def job_mark_retrying(
    *,
    job_id: UUID | str,
    task_id: str,
    code: str,
    message: str,
    retry_at: datetime,
    published_by_requeue: bool = False,
) -> bool:
    """Give the job back to the queue until `retry_at`. The task publishes the
    retry itself (a countdown), or, with `published_by_requeue`, leaves it to
    the requeue task, which publishes the job once `retry_at` has passed. The
    last error is kept for operators; clients see it only if the job finally
    fails."""
    # The requeue task publishes jobs queued JOB_REQUEUE_AFTER_S after their
    # published_at. A scheduled retry is due at retry_at itself. A countdown's
    # message is due at retry_at, and published again if it has not started
    # the job RETRY_MESSAGE_GRACE_S later: it was lost (the broker restarted
    # while the worker held it, or the broker was down when it was sent).
    published_at = retry_at - timedelta(seconds=settings.JOB_REQUEUE_AFTER_S)
    if not published_by_requeue:
        published_at += timedelta(seconds=RETRY_MESSAGE_GRACE_S)
    return bool(
        Job.objects.filter(pk=job_id, status=Job.Status.RUNNING, worker_task_id=task_id).update(
            status=Job.Status.QUEUED,
            error_code=code,
            error_message=message[:2000],
            published_at=published_at,
            updated_at=timezone.now(),
        )
    )


def job_hand_off_to_model(*, job_id: UUID | str, task_id: str) -> bool:
    """SOLVER=auto: the local solver could not answer; give the job back to
    the queue for the model (the solve queue). The local attempt is not
    counted against JOB_MAX_ATTEMPTS, which caps calls to the model. False:
    the run lost its claim (canceled, or taken over) and nothing is sent."""
    now = timezone.now()
    with transaction.atomic():
        updated = Job.objects.filter(pk=job_id, status=Job.Status.RUNNING, worker_task_id=task_id).update(
            status=Job.Status.QUEUED,
            attempts=F("attempts") - 1,
            worker_task_id="",
            deadline_at=None,
            published_at=now,
            updated_at=now,
        )
        if updated:
            request_id = Job.objects.values_list("request_id", flat=True).get(pk=job_id)
            job_publish(job_id=job_id, request_id=request_id, task_name=SOLVE_TASK_NAME)
    return bool(updated)


def job_cancel(*, job: Job) -> Job:
    """Cancel a queued or running job. A running job's call to the model is
    not interrupted, but its answer is discarded and never billed (it can no
    longer win the success transition). 409 if the job already ended."""
    now = timezone.now()
    with transaction.atomic():
        updated = Job.objects.filter(pk=job.pk, status__in=Job.ACTIVE).update(
            status=Job.Status.CANCELED,
            completed_at=now,
            error_code="canceled",
            error_message="Canceled by the client.",
            updated_at=now,
        )
        if updated:
            return _finished(job.pk, events.CANCELED)
    job.refresh_from_db()
    raise Problem(
        status=409,
        slug="job-not-cancelable",
        detail=f"The job is already {job.status} and cannot be canceled.",
        extra={"job_status": job.status},
    )


def job_rerun(*, job: Job) -> bool:
    """Operators: run a failed job again from the start (its input image must
    still be stored). False if the job is not failed any more or has no image."""
    if not job.image:
        return False
    now = timezone.now()
    with transaction.atomic():
        updated = Job.objects.filter(pk=job.pk, status=Job.Status.FAILED).update(
            status=Job.Status.QUEUED,
            result=None,
            error_code="",
            error_message="",
            attempts=0,
            worker_task_id="",
            started_at=None,
            completed_at=None,
            deadline_at=None,
            lease_expires_at=None,
            published_at=now,
            updated_at=now,
        )
        if updated:
            job_publish(job_id=job.pk, request_id=job.request_id)
    return bool(updated)


def jobs_requeue_stale(*, now: datetime | None = None, batch: int = 500, queues_empty: bool = False) -> int:
    """Publish again the jobs still queued long after they were published (a
    lost broker message, a publish that failed after commit). With
    `queues_empty` (the broker holds no message for any job) a job that is
    not waiting for a retry is given only JOB_REQUEUE_IDLE_AFTER_S: its
    message is not waiting behind others, so it was lost, e.g. received by a
    worker that was killed before it claimed the job. (A job waiting for a
    retry keeps its retry time in published_at and the error that caused it
    in error_code; job_mark_retrying sets both.) Returns how many were
    published."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.JOB_REQUEUE_AFTER_S)
    due = Q(published_at__lt=cutoff)
    if queues_empty:
        idle_cutoff = now - timedelta(seconds=settings.JOB_REQUEUE_IDLE_AFTER_S)
        due |= Q(error_code="", published_at__lt=idle_cutoff)
    stale = list(Job.objects.filter(due, status=Job.Status.QUEUED).values_list("pk", "request_id")[:batch])
    published = 0
    for job_id, request_id in stale:
        with transaction.atomic():
            # Conditional, so two beat runs at once publish each job once.
            if Job.objects.filter(due, pk=job_id, status=Job.Status.QUEUED).update(
                published_at=now, updated_at=now
            ):
                job_publish(job_id=job_id, request_id=request_id)
                published += 1
    if published:
        logger.warning("re-published %d job(s) stuck in the queue", published)
    return published


def jobs_recover_expired(*, now: datetime | None = None, batch: int = 500) -> tuple[int, int]:
    """Running jobs whose lease ran out (their worker died, or lost the
    database) or whose deadline passed (it hangs): queue them again while
    attempts remain, fail them with `timeout` otherwise. The run that lost
    the job can no longer record an outcome: every transition is conditional
    on its task ID. Returns (requeued, failed)."""
    now = now or timezone.now()
    expired = Job.objects.filter(_lost_its_worker(now))
    requeued = failed = 0
    for job_id, attempts, request_id in expired.values_list("pk", "attempts", "request_id")[:batch]:
        if job_attempts_exhausted(attempts):
            if job_mark_failed(
                job_id=job_id,
                code="timeout",
                message="The job did not finish: its last run stopped without an answer.",
            ):
                failed += 1
            continue
        with transaction.atomic():
            if Job.objects.filter(_lost_its_worker(now), pk=job_id).update(
                status=Job.Status.QUEUED,
                worker_task_id="",
                lease_expires_at=None,
                published_at=now,
                updated_at=now,
            ):
                job_publish(job_id=job_id, request_id=request_id)
                requeued += 1
    if requeued or failed:
        logger.warning("recovered expired running jobs: %d requeued, %d failed", requeued, failed)
    return requeued, failed


def job_inputs_purge(*, now: datetime | None = None, batch: int = 500, budget_s: float = 600) -> int:
    """Delete the input images of jobs finished more than the retention
    period ago; the job rows (results, usage) stay. Batch after batch until
    none is left or `budget_s` has been spent (the next run goes on)."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.JOB_INPUT_RETENTION_DAYS)
    stop_at = time.monotonic() + budget_s
    purged = 0
    jobs = Job.objects.filter(status__in=Job.TERMINAL, completed_at__lt=cutoff).exclude(image="")
    while True:
        page = list(jobs.only("pk", "image").order_by("completed_at")[:batch])
        for job in page:
            job.image.delete(save=False)
            Job.objects.filter(pk=job.pk).update(image="")
            purged += 1
        if len(page) < batch or time.monotonic() >= stop_at:
            break
    if purged:
        logger.info("purged the input images of %d finished job(s)", purged)
    return purged
