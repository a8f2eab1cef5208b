"""Beat tasks (queue `maintenance`) that keep jobs from staying stuck and
input images from piling up. Each is safe to run twice at once."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from api.services import job_inputs_purge, jobs_recover_expired, jobs_requeue_stale
from workers import broker

# Where job messages wait: the model's queue and the local solver's.
JOB_QUEUES = ("solve", "local")


@shared_task(bind=True, name="workers.tasks.recovery.requeue_stale_jobs_task", ignore_result=True)
def requeue_stale_jobs_task(self: Any) -> int:
    return jobs_requeue_stale(queues_empty=broker.queues_empty(self.app, JOB_QUEUES))


@shared_task(name="workers.tasks.recovery.recover_expired_jobs_task", ignore_result=True)
def recover_expired_jobs_task() -> dict[str, Any]:
    requeued, failed = jobs_recover_expired()
    return {"requeued": requeued, "failed": failed}


@shared_task(name="workers.tasks.recovery.purge_expired_inputs_task", ignore_result=True)
def purge_expired_inputs_task() -> int:
    return job_inputs_purge()
