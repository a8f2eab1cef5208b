"""The local solver's task (queue `local`, a process pool sized to the
cores: OCR and SymPy burn CPU, and must not starve the solve queue's threads,
which wait on the model).

SOLVER=local: the local answer, or the job fails (`unreadable_image`,
`unsupported_problem`, `solve_timeout`). SOLVER=auto: what the local solver
cannot answer is handed to the solve queue, where the model answers it."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from api.services import job_hand_off_to_model, job_mark_failed, job_mark_failed_internally
from workers import leases, runs
from workers.providers import ProviderError
from workers.tasks.solve import claim

logger = logging.getLogger(__name__)

# Parsing and SymPy stop themselves after LOCAL_SOLVER_TIMEOUT_S (a signal in
# the pool process); these limits catch the rest (OCR of a pathological
# image). The hard one kills the pool process: nothing renews the job's lease
# any more, and recovery takes it back (see jobs_recover_expired).
SOFT_TIME_LIMIT_S = settings.LOCAL_SOLVER_TIMEOUT_S + 20
HARD_TIME_LIMIT_S = SOFT_TIME_LIMIT_S + 10


@shared_task(
    bind=True,
    name="workers.tasks.local.solve_local_task",
    ignore_result=True,
    soft_time_limit=SOFT_TIME_LIMIT_S,
    time_limit=HARD_TIME_LIMIT_S,
    # Retried only to claim through a database outage, as the solve task.
    max_retries=None,
)
def solve_local_task(self: Any, job_id: str) -> None:
    # Imported here, not with the module: every worker registers this task,
    # and OCR and SymPy are ~33 MB that only the local queue's processes need.
    from workers.providers.local import TIMED_OUT, LocalProvider

    task_id: str = self.request.id
    job = claim(self, job_id=job_id)
    if job is None:
        return
    try:
        # The lease is renewed while OCR and SymPy run, so recovery never
        # takes back a job this live process is still solving.
        with leases.held(job_id=job_id, task_id=task_id):
            answer = LocalProvider().solve(runs.solve_request(job))
    except SoftTimeLimitExceeded:
        _cannot_answer(
            job_id=job_id,
            task_id=task_id,
            error=ProviderError(TIMED_OUT, "Solving took too long and was stopped.", retryable=False),
        )
        return
    except ProviderError as exc:
        _cannot_answer(job_id=job_id, task_id=task_id, error=exc)
        return
    except Exception:
        job_mark_failed_internally(job_id=job_id, task_id=task_id)
        raise
    runs.job_answered(job=job, task_id=task_id, answer=answer)


def _cannot_answer(*, job_id: str, task_id: str, error: ProviderError) -> None:
    # `input_missing` would fail the model's attempt too.
    if settings.SOLVER == "auto" and error.code != "input_missing":
        logger.info("job %s: local solver did not answer (%s); handed to the model", job_id, error.code)
        job_hand_off_to_model(job_id=job_id, task_id=task_id)
        return
    logger.info("job %s failed: %s (%s)", job_id, error.code, error.message)
    job_mark_failed(job_id=job_id, task_id=task_id, code=error.code, message=error.message)
