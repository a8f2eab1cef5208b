"""The solve task: claim the job, ask the model, store the answer (or the
failure), decide retries. The job row is the result; Celery's is ignored."""

from __future__ import annotations

import logging
import random
from datetime import timedelta
from typing import Any

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.utils import timezone

from api.images import ALLOWED_FORMATS
from api.models import Job
from api.services import job_mark_failed, job_mark_retrying, job_mark_running, job_mark_succeeded
from workers.providers import ProviderError, SolveRequest, answer_result, provider_get
from workers.providers.base import DEFAULT_PROMPT

logger = logging.getLogger(__name__)


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
    mime_type = ALLOWED_FORMATS.get(job.image_format.upper(), ("image/png", "png"))[0]
    return SolveRequest(
        image=image,
        mime_type=mime_type,
        prompt=job.prompt or DEFAULT_PROMPT,
        model=job.model,
        detail=job.detail,
        width=job.image_width,
        height=job.image_height,
    )


@shared_task(
    bind=True,
    name="workers.tasks.solve.solve_job_task",
    ignore_result=True,
    # Attempts are capped by JOB_MAX_ATTEMPTS on the job, not by Celery.
    max_retries=None,
)
def solve_job_task(self: Any, job_id: str) -> None:
    task_id: str = self.request.id
    job = job_mark_running(job_id=job_id, task_id=task_id)
    if job is None:
        # Finished, canceled, or held by another live run: nothing to do.
        logger.info("job %s is not ours to run; skipped", job_id)
        return
    if job.attempts > settings.JOB_MAX_ATTEMPTS:
        # Redelivered again and again (a worker dies on it each time).
        job_mark_failed(
            job_id=job_id,
            task_id=task_id,
            code="attempts_exhausted",
            message=f"The job was attempted {settings.JOB_MAX_ATTEMPTS} times without an answer.",
        )
        return
    try:
        answer = provider_get().solve(_solve_request(job))
    except SoftTimeLimitExceeded:
        job_mark_failed(job_id=job_id, task_id=task_id, code="timeout", message="The job ran out of time.")
        return
    except ProviderError as exc:
        if exc.retryable and job.attempts < settings.JOB_MAX_ATTEMPTS:
            countdown = retry_delay(attempt=job.attempts, retry_after=exc.retry_after)
            retry_at = timezone.now() + timedelta(seconds=countdown)
            logger.warning("job %s attempt %d: %s; retry in %ss", job_id, job.attempts, exc.code, countdown)
            if job_mark_retrying(
                job_id=job_id, task_id=task_id, code=exc.code, message=exc.message, retry_at=retry_at
            ):
                raise self.retry(countdown=countdown, exc=exc) from exc
            return
        logger.warning("job %s failed: %s (%s)", job_id, exc.code, exc.message)
        job_mark_failed(job_id=job_id, task_id=task_id, code=exc.code, message=exc.message)
        return
    if not job_mark_succeeded(
        job_id=job_id,
        task_id=task_id,
        result=answer_result(answer.text),
        model=answer.model,
        input_tokens=answer.input_tokens,
        cached_tokens=answer.cached_tokens,
        output_tokens=answer.output_tokens,
    ):
        logger.info("job %s was canceled or taken over while running; answer discarded", job_id)
