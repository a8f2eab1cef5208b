"""A 202 means the job is stored and will run: when the broker cannot be
reached after the job's row is committed, the job stays queued and the
requeue sweep's next run publishes it. The broker is a closed port on
loopback: kombu meets a real refused connection."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone

from api.models import Job
from api.services import jobs_requeue_stale
from tests.api.helpers import b64, image_bytes


def test_a_job_whose_publish_fails_after_commit_is_kept_for_the_requeue_sweep(
    alice_client, unreachable_broker, django_capture_on_commit_callbacks, settings, caplog
) -> None:
    with caplog.at_level(logging.WARNING), django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post("/api/v1/solve", {"image": b64(image_bytes())}, format="json")

    assert response.status_code == 202
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == Job.Status.QUEUED
    # Due for the sweep's next run, not JOB_REQUEUE_AFTER_S from now.
    assert job.published_at is not None
    assert job.published_at < timezone.now() - timedelta(seconds=settings.JOB_REQUEUE_AFTER_S)
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        f"could not publish workers.tasks.solve.solve_job_task('{job.id}')"
    ]
    assert all(r.exc_info is None for r in caplog.records)

    with django_capture_on_commit_callbacks() as callbacks:
        assert jobs_requeue_stale() == 1
    assert len(callbacks) == 1, "published again"
