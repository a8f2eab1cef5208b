"""A job's run on a worker, between its claim and its outcome: the request
built from the job, the call to the model, the outcome recorded (riding out
a database restart), and the retry policy. The tasks around it only claim
the job, hold its lease, and turn a `RetryIn` into a Celery retry."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError
from django.db import connection as db_connection
from django.utils import timezone

from api.images import ALLOWED_FORMATS
from api.models import Job
from api.services import job_attempts_exhausted, job_mark_failed, job_mark_retrying, job_mark_succeeded
from config.database import connection_release
from workers.providers import Answer, ProviderError, SolveRequest, answer_result, provider_get
from workers.providers.base import DEFAULT_PROMPT

logger = logging.getLogger(__name__)

# The database unreachable when an outcome is written: retry the write for up
# to this long.
DATABASE_RECORD_BUDGET_S = 30


@dataclass(frozen=True)
class RetryIn:
    """Run the job again in `countdown` seconds; it is queued in the
    database already, due then."""

    countdown: int
    error: ProviderError


def retry_delay(*, attempt: int, retry_after: float | None) -> int:
    """Exponential backoff with jitter (base, 2 * base, 4 * base, ...), never
    sooner than the provider's Retry-After, capped."""
    backoff = settings.JOB_RETRY_BASE_DELAY_S * 2 ** max(attempt - 1, 0)
    backoff += random.uniform(0, settings.JOB_RETRY_BASE_DELAY_S)  # noqa: S311  (jitter, not crypto)
    delay = max(backoff, retry_after or 0)
    return int(min(delay, settings.JOB_RETRY_MAX_DELAY_S) + 0.999)


def solve_request(job: Job) -> SolveRequest:
    """What the model (or the local solver) is asked: the stored image and
    the job's fields."""
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


def job_solve(*, job: Job, task_id: str) -> RetryIn | None:
    """Ask the model to answer the job this run claimed (`job.attempts` is
    this run's number) and record the answer or the failure. A RetryIn when
    the job is to run again soon."""
    if job_attempts_exhausted(job.attempts - 1):
        # Redelivered again and again (a worker dies on it each time).
        _fail(
            job=job,
            task_id=task_id,
            code="attempts_exhausted",
            message=f"The job was attempted {settings.JOB_MAX_ATTEMPTS} times without an answer.",
        )
        return None
    try:
        request = solve_request(job)
        # Seconds with no query: the connection goes back to the pool meanwhile.
        connection_release()
        answer = provider_get().solve(request)
    except ProviderError as exc:
        return _failed(job=job, task_id=task_id, error=exc)
    job_answered(job=job, task_id=task_id, answer=answer)
    return None


def job_answered(*, job: Job, task_id: str, answer: Answer) -> None:
    """Store the answer and bill it, unless the run lost the job meanwhile."""
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
        logger.info("job %s was canceled or taken over while running; answer discarded", job.pk)


def _failed(*, job: Job, task_id: str, error: ProviderError) -> RetryIn | None:
    """The retry policy. A short wait is a Celery countdown (RetryIn); a
    Retry-After beyond JOB_RETRY_MAX_DELAY_S is kept in the database instead
    (a message held that long could outlive the broker's visibility timeout),
    and the requeue task publishes the job once it is due. Beyond
    JOB_RETRY_AFTER_MAX_S, or when no attempt is left, the job fails."""
    retry_after = error.retry_after or 0
    if not error.retryable or job_attempts_exhausted(job.attempts):
        logger.warning("job %s failed: %s (%s)", job.pk, error.code, error.message)
        _fail(job=job, task_id=task_id, code=error.code, message=error.message)
        return None
    if retry_after > settings.JOB_RETRY_AFTER_MAX_S:
        logger.warning("job %s failed: %s, Retry-After %ss is too long", job.pk, error.code, retry_after)
        message = f"{error.message} It asked to retry after {int(retry_after)} s."
        _fail(job=job, task_id=task_id, code=error.code, message=message)
        return None
    by_requeue = retry_after > settings.JOB_RETRY_MAX_DELAY_S
    wait = retry_after if by_requeue else retry_delay(attempt=job.attempts, retry_after=error.retry_after)
    retry_at = timezone.now() + timedelta(seconds=wait)
    logger.warning("job %s attempt %d: %s; retry at %s", job.pk, job.attempts, error.code, retry_at)
    recorded = _record(
        lambda: job_mark_retrying(
            job_id=job.pk,
            task_id=task_id,
            code=error.code,
            message=error.message,
            retry_at=retry_at,
            published_by_requeue=by_requeue,
        )
    )
    return RetryIn(countdown=int(wait), error=error) if recorded and not by_requeue else None


def _fail(*, job: Job, task_id: str, code: str, message: str) -> None:
    _record(lambda: job_mark_failed(job_id=job.pk, task_id=task_id, code=code, message=message))


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
