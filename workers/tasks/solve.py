"""The solve task: claim the job, ask the model, store the answer (or the
failure), decide retries. The job row is the result; Celery's is ignored."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from celery import shared_task
from celery.exceptions import Reject, Retry
from django.conf import settings
from django.db import DatabaseError
from django.db import connection as db_connection
from django.utils import timezone

from api.images import ALLOWED_FORMATS
from api.models import Job
from api.services import (
    job_mark_failed,
    job_mark_failed_internally,
    job_mark_retrying,
    job_mark_running,
    job_mark_succeeded,
)
from config.database import connection_release
from workers import leases
from workers.providers import ProviderError, SolveRequest, answer_result, provider_get
from workers.providers.base import DEFAULT_PROMPT

logger = logging.getLogger(__name__)

# The database unreachable when a run starts: claim again after this long.
DATABASE_RETRY_S = 5
# ... or when its outcome is written: retry the write for up to this long.
DATABASE_RECORD_BUDGET_S = 30


def retry_delay(*, attempt: int, retry_after: float | None) -> int:
    """Exponential backoff with jitter (base, 2 * base, 4 * base, ...), never
    sooner than the provider's Retry-After, capped."""
    backoff = settings.JOB_RETRY_BASE_DELAY_S * 2 ** max(attempt - 1, 0)
    backoff += random.uniform(0, settings.JOB_RETRY_BASE_DELAY_S)  # noqa: S311  (jitter, not crypto)
    delay = max(backoff, retry_after or 0)
    return int(min(delay, settings.JOB_RETRY_MAX_DELAY_S) + 0.999)


def _solve_request(job: Job) -> SolveRequest:
    try:
        with job.image.open("rb") as stored:
            image = stored.read()
    except (FileNotFoundError, OSError, ValueError) as exc:
        raise ProviderError(
            "input_missing", f"The input image could not be read: {exc}", retryable=False
        ) from exc
    # Submission accepts only ALLOWED_FORMATS and stores the format's name.
    mime_type = ALLOWED_FORMATS[job.image_format.upper()][0]
    return SolveRequest(
        image=image,
        mime_type=mime_type,
        prompt=job.prompt or DEFAULT_PROMPT,
        model=job.model,
        detail=job.detail,
        width=job.image_width,
        height=job.image_height,
    )


def claim(task: Any, *, job_id: str) -> Job | None:
    """Claim the job for this run (solve and local tasks). None: finished,
    canceled, or held by another live run, so there is nothing to do. While
    the database is unreachable (restarting?) nothing is claimed and the
    task tries again in DATABASE_RETRY_S; Celery's Django fixup drops the
    broken connection after the task."""
    try:
        job = job_mark_running(job_id=job_id, task_id=task.request.id)
    except DatabaseError as exc:
        logger.warning("job %s: database unavailable, claiming again in %ss", job_id, DATABASE_RETRY_S)
        raise task.retry(countdown=DATABASE_RETRY_S, exc=exc) from exc
    if job is None:
        logger.info("job %s is not ours to run; skipped", job_id)
    return job


@shared_task(
    bind=True,
    name="workers.tasks.solve.solve_job_task",
    ignore_result=True,
    # Attempts are capped by JOB_MAX_ATTEMPTS on the job, not by Celery.
    max_retries=None,
)
def solve_job_task(self: Any, job_id: str) -> None:
    task_id: str = self.request.id
    job = claim(self, job_id=job_id)
    if job is None:
        return
    try:
        with leases.held(job_id=job_id, task_id=task_id):
            _run(self, job=job, task_id=task_id)
    except Retry:
        raise
    except DatabaseError:
        # The database went away mid-run and stayed away: the outcome could
        # not be recorded. The job keeps this run's lease, which nobody
        # renews any more; the recovery task takes the job back once it runs
        # out, and whatever this run might still write is refused (every
        # transition is conditional on its task ID).
        logger.exception("job %s: database unavailable; left to recovery", job_id)
        raise
    except Exception:
        job_mark_failed_internally(job_id=job_id, task_id=task_id)
        # Celery records the failure (Flower, task events); the message is
        # acknowledged, never redelivered.
        raise


def _record(write: Callable[[], bool]) -> bool:
    """Write a run's outcome, riding out a database restart: the answer in
    hand is worth a few seconds of retries rather than another call to the
    model. Each try is its own transaction, conditional on the claim, so a
    commit whose acknowledgement was lost is never applied twice (the retry
    finds the job finished and changes nothing). Raises the last
    DatabaseError when the time is up."""
    deadline = time.monotonic() + DATABASE_RECORD_BUDGET_S
    delay = 0.5
    while True:
        try:
            return write()
        except DatabaseError:
            if time.monotonic() + delay > deadline:
                raise
            logger.warning("database unavailable while recording an outcome; retrying in %.1fs", delay)
            # Drop the connection if it is broken (as Django does between
            # requests); the next query opens a new one.
            if not db_connection.in_atomic_block:
                db_connection.close_if_unusable_or_obsolete()
            time.sleep(delay)
            delay = min(delay * 2, 8.0)


def _run(task: Any, *, job: Job, task_id: str) -> None:
    job_id = str(job.pk)
    if job.attempts > settings.JOB_MAX_ATTEMPTS:
        # Redelivered again and again (a worker dies on it each time).
        _record(
            lambda: job_mark_failed(
                job_id=job_id,
                task_id=task_id,
                code="attempts_exhausted",
                message=f"The job was attempted {settings.JOB_MAX_ATTEMPTS} times without an answer.",
            )
        )
        return
    try:
        request = _solve_request(job)
        # Seconds with no query: the connection goes back to the pool meanwhile.
        connection_release()
        answer = provider_get().solve(request)
    except ProviderError as exc:
        if exc.retryable and job.attempts < settings.JOB_MAX_ATTEMPTS:
            _retry_later(task, job=job, task_id=task_id, exc=exc)
            return
        logger.warning("job %s failed: %s (%s)", job_id, exc.code, exc.message)
        code, message = exc.code, exc.message
        _record(lambda: job_mark_failed(job_id=job_id, task_id=task_id, code=code, message=message))
        return
    if not _record(
        lambda: job_mark_succeeded(
            job=job,
            task_id=task_id,
            result=answer_result(answer.text),
            model=answer.model,
            input_tokens=answer.input_tokens,
            cached_tokens=answer.cached_tokens,
            output_tokens=answer.output_tokens,
        )
    ):
        logger.info("job %s was canceled or taken over while running; answer discarded", job_id)


def _retry_later(task: Any, *, job: Job, task_id: str, exc: ProviderError) -> None:
    """Give the job back to the queue. A short wait is a Celery countdown; a
    Retry-After beyond JOB_RETRY_MAX_DELAY_S is kept in the database instead
    (a message held that long could outlive the broker's visibility timeout),
    and requeue_stale_jobs_task publishes the job once it is due. Beyond
    JOB_RETRY_AFTER_MAX_S the job fails with the provider's error."""
    job_id = str(job.pk)
    retry_after = exc.retry_after or 0
    if retry_after > settings.JOB_RETRY_AFTER_MAX_S:
        logger.warning("job %s failed: %s, Retry-After %ss is too long", job_id, exc.code, retry_after)
        _record(
            lambda: job_mark_failed(
                job_id=job_id,
                task_id=task_id,
                code=exc.code,
                message=f"{exc.message} It asked to retry after {int(retry_after)} s.",
            )
        )
        return
    if retry_after > settings.JOB_RETRY_MAX_DELAY_S:
        retry_at = timezone.now() + timedelta(seconds=retry_after)
        logger.warning("job %s attempt %d: %s; retry at %s", job_id, job.attempts, exc.code, retry_at)
        _record(
            lambda: job_mark_retrying(
                job_id=job_id,
                task_id=task_id,
                code=exc.code,
                message=exc.message,
                retry_at=retry_at,
                published_by_requeue=True,
            )
        )
        return
    countdown = retry_delay(attempt=job.attempts, retry_after=exc.retry_after)
    retry_at = timezone.now() + timedelta(seconds=countdown)
    logger.warning("job %s attempt %d: %s; retry in %ss", job_id, job.attempts, exc.code, countdown)
    if not _record(
        lambda: job_mark_retrying(
            job_id=job_id, task_id=task_id, code=exc.code, message=exc.message, retry_at=retry_at
        )
    ):
        return
    try:
        retry = task.retry(countdown=countdown, exc=exc, throw=False)
    except Reject:
        # Celery could not publish the retry (the broker is unreachable). The
        # job is queued in the database, due at retry_at; the requeue task
        # publishes it once the broker is back (job_mark_retrying).
        logger.warning("job %s: the retry could not be published; the requeue task will", job_id)
        return
    raise retry from exc
