"""The solve task: claim the job, run it (workers/runs.py), and retry when the
run asks. The job row is the result; Celery's is ignored."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.exceptions import Reject
from django.db import DatabaseError

from api.models import Job
from api.services import job_mark_failed_internally, job_mark_running
from workers import leases, runs

logger = logging.getLogger(__name__)

# The database unreachable when a run starts: claim again after this long.
DATABASE_RETRY_S = 5


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
            retry = runs.job_solve(job=job, task_id=task_id)
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
    if retry is None:
        return
    try:
        message = self.retry(countdown=retry.countdown, exc=retry.error, throw=False)
    except Reject:
        # Celery could not publish the retry (the broker is unreachable). The
        # job is queued in the database, due then; the requeue task publishes
        # it once the broker is back (job_mark_retrying).
        logger.warning("job %s: the retry could not be published; the requeue task will", job_id)
        return
    raise message from retry.error
