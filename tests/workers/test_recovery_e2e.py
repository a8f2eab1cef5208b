"""A job whose broker message was lost is found by the beat task and solved
by a real worker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

import tests.fakes.openai_server as fake_api
from api.models import Job
from billing.models import UsageRecord
from tests.api.helpers import make_job
from tests.fakes.openai_server import worker_env
from tests.worker_process import running_worker
from workers.tasks.recovery import requeue_stale_jobs_task

pytestmark = [pytest.mark.e2e]

openai_server = fake_api.openai_server  # the fixture, used by name


def test_a_job_whose_message_was_lost_is_recovered(
    transactional_db, alice, alice_client, openai_server, settings
) -> None:
    # Queued, "published" long ago, but no message exists: it was lost.
    job = make_job(alice, published_at=timezone.now() - timedelta(seconds=settings.JOB_REQUEUE_AFTER_S + 1))
    with running_worker(extra_env=worker_env(openai_server)):
        requeue_stale_jobs_task.delay()  # what beat does, on the maintenance queue
        body = alice_client.get(f"/api/v1/jobs/{job.id}?wait=30").json()
    assert body["status"] == "succeeded", body
    assert Job.objects.get(pk=job.id).attempts == 1
    assert UsageRecord.objects.filter(job_id=job.id).count() == 1
