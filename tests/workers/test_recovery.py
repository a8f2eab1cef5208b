"""The maintenance beat tasks, called directly."""

from __future__ import annotations

from datetime import timedelta

from django.core.files.storage import default_storage
from django.utils import timezone

from api.models import Job
from api.services import jobs_requeue_stale
from billing.models import UsageRecord
from tests.api.helpers import make_job
from workers.tasks.recovery import (
    purge_expired_inputs_task,
    recover_expired_jobs_task,
    requeue_stale_jobs_task,
)


def test_jobs_queued_long_ago_are_published_again_once(
    alice, settings, django_capture_on_commit_callbacks
) -> None:
    stale = make_job(alice, published_at=timezone.now() - timedelta(seconds=settings.JOB_REQUEUE_AFTER_S + 5))
    fresh = make_job(alice)
    with django_capture_on_commit_callbacks() as published:
        assert requeue_stale_jobs_task() == 1
        assert requeue_stale_jobs_task() == 0
    assert len(published) == 1
    stale.refresh_from_db()
    assert stale.status == Job.Status.QUEUED
    assert stale.published_at is not None
    assert stale.published_at > timezone.now() - timedelta(seconds=5)
    assert Job.objects.get(pk=fresh.pk).published_at == fresh.published_at


def test_a_job_waiting_for_its_retry_is_not_published_early(
    alice, django_capture_on_commit_callbacks
) -> None:
    make_job(alice, published_at=timezone.now() + timedelta(seconds=60))
    with django_capture_on_commit_callbacks() as published:
        assert requeue_stale_jobs_task() == 0
    assert published == []


def test_running_jobs_past_their_deadline_are_queued_again(alice, django_capture_on_commit_callbacks) -> None:
    past = timezone.now() - timedelta(seconds=1)
    expired = make_job(alice, status=Job.Status.RUNNING, deadline_at=past, attempts=1, worker_task_id="dead")
    alive = make_job(alice, status=Job.Status.RUNNING, deadline_at=past + timedelta(hours=1), attempts=1)
    with django_capture_on_commit_callbacks() as published:
        assert recover_expired_jobs_task() == {"requeued": 1, "failed": 0}
    assert len(published) == 1
    expired.refresh_from_db()
    assert (expired.status, expired.worker_task_id) == (Job.Status.QUEUED, "")
    alive.refresh_from_db()
    assert alive.status == Job.Status.RUNNING


def test_running_jobs_past_their_deadline_with_no_attempts_left_fail_unbilled(alice, settings) -> None:
    expired = make_job(
        alice,
        status=Job.Status.RUNNING,
        deadline_at=timezone.now() - timedelta(seconds=1),
        attempts=settings.JOB_MAX_ATTEMPTS,
    )
    assert recover_expired_jobs_task() == {"requeued": 0, "failed": 1}
    expired.refresh_from_db()
    assert (expired.status, expired.error_code) == (Job.Status.FAILED, "timeout")
    assert expired.completed_at is not None
    assert not UsageRecord.objects.exists()


def test_input_images_of_old_finished_jobs_are_purged(alice, settings) -> None:
    long_ago = timezone.now() - timedelta(days=settings.JOB_INPUT_RETENTION_DAYS + 1)
    old = make_job(alice, status=Job.Status.SUCCEEDED, completed_at=long_ago, result={"text": "4"})
    recent = make_job(alice, status=Job.Status.FAILED, completed_at=timezone.now())
    waiting = make_job(alice)
    old_name = old.image.name
    assert purge_expired_inputs_task() == 1
    old.refresh_from_db()
    assert old.image.name == "" and not default_storage.exists(str(old_name))
    assert old.result == {"text": "4"}
    for job in (recent, waiting):
        job.refresh_from_db()
        assert default_storage.exists(str(job.image.name))
    assert purge_expired_inputs_task() == 0


def test_the_purge_goes_on_past_one_batch(alice, settings) -> None:
    long_ago = timezone.now() - timedelta(days=settings.JOB_INPUT_RETENTION_DAYS + 1)
    old = [make_job(alice, status=Job.Status.FAILED, completed_at=long_ago) for _ in range(5)]
    from api.services import job_inputs_purge

    assert job_inputs_purge(batch=2) == 5
    assert not Job.objects.filter(pk__in=[job.pk for job in old]).exclude(image="").exists()


def test_the_purge_stops_when_its_time_budget_is_spent(alice, settings) -> None:
    long_ago = timezone.now() - timedelta(days=settings.JOB_INPUT_RETENTION_DAYS + 1)
    for _ in range(5):
        make_job(alice, status=Job.Status.FAILED, completed_at=long_ago)
    from api.services import job_inputs_purge

    assert job_inputs_purge(batch=2, budget_s=0) == 2
    assert job_inputs_purge(batch=2) == 3


def test_a_job_published_again_keeps_its_request_id(
    alice, settings, sent_tasks, django_capture_on_commit_callbacks
) -> None:
    stale = make_job(
        alice,
        request_id="req-submit-0001",
        published_at=timezone.now() - timedelta(seconds=settings.JOB_REQUEUE_AFTER_S + 5),
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert requeue_stale_jobs_task() == 1
    assert sent_tasks == [
        {
            "name": "workers.tasks.solve.solve_job_task",
            "args": [str(stale.pk)],
            "kwargs": {},
            "ignore_result": True,
            "headers": {"request_id": "req-submit-0001"},
            "argsrepr": repr([str(stale.pk)]),
            "kwargsrepr": "{}",
        }
    ]


def test_a_recovered_job_keeps_its_request_id(alice, sent_tasks, django_capture_on_commit_callbacks) -> None:
    make_job(
        alice,
        status=Job.Status.RUNNING,
        request_id="req-submit-0002",
        deadline_at=timezone.now() - timedelta(seconds=1),
        attempts=1,
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert recover_expired_jobs_task() == {"requeued": 1, "failed": 0}
    assert [task["headers"] for task in sent_tasks] == [{"request_id": "req-submit-0002"}]


def test_a_queued_job_is_published_again_soon_when_no_message_waits_for_it(
    alice, settings, django_capture_on_commit_callbacks
) -> None:
    """Its message was lost (say, received by a worker killed before it
    claimed the job): with the broker's queues empty nothing will bring it."""
    idle = timezone.now() - timedelta(seconds=settings.JOB_REQUEUE_IDLE_AFTER_S + 5)
    lost = make_job(alice, published_at=idle)
    # Taken back from a dead worker, then its new message lost the same way.
    recovered = make_job(alice, attempts=1, published_at=idle)
    make_job(alice)  # published a moment ago: its message may still be on its way
    with django_capture_on_commit_callbacks() as published:
        # Messages are waiting: the job may be among them.
        assert jobs_requeue_stale(queues_empty=False) == 0
        assert jobs_requeue_stale(queues_empty=True) == 2
        assert jobs_requeue_stale(queues_empty=True) == 0
    assert len(published) == 2
    for job in (lost, recovered):
        job.refresh_from_db()
        assert job.published_at is not None and job.published_at > idle


def test_a_job_waiting_for_its_retry_waits_even_when_the_queues_are_empty(
    alice, settings, django_capture_on_commit_callbacks
) -> None:
    # A retry due in 200 s keeps that time in published_at (job_mark_retrying).
    retry_at = timezone.now() + timedelta(seconds=200)
    make_job(
        alice,
        attempts=1,
        error_code="rate_limited",
        published_at=retry_at - timedelta(seconds=settings.JOB_REQUEUE_AFTER_S),
    )
    with django_capture_on_commit_callbacks() as published:
        assert jobs_requeue_stale(queues_empty=True) == 0
    assert published == []
