"""JobsInFlight: each user's count of jobs queued or running, kept by triggers
on the job table (migration 0005) whatever changes a job, and read by the
in-flight cap. On PostgreSQL and on SQLite (the embedded defaults)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import User
from api.models import Job, JobsInFlight
from api.services import job_cancel, job_submit
from config.problems import Problem
from tests.api.helpers import image_bytes


def _kept(user: User) -> int:
    row = JobsInFlight.objects.filter(user=user).first()
    return row.jobs if row else 0


def _counted(user: User) -> int:
    return Job.objects.filter(user=user, status__in=Job.ACTIVE).count()


def _job(user: User, status: str) -> Job:
    return Job.objects.create(user=user, model="gpt-4o-mini", status=status)


def test_it_follows_every_way_a_job_comes_goes_and_changes(alice, bob, sent_tasks) -> None:
    steps: list[tuple[int, int]] = []

    def check() -> None:
        steps.append((_kept(alice), _counted(alice)))

    check()  # no row: none in flight
    submitted = job_submit(user=alice, image=image_bytes()).job  # the statement of config/rows.py
    check()
    queued, running, ended = _job(alice, "queued"), _job(alice, "running"), _job(alice, "succeeded")
    check()
    Job.objects.filter(pk=queued.pk).update(status="running")  # a claim: still in flight
    check()
    Job.objects.filter(pk=running.pk).update(status="succeeded", completed_at=timezone.now())
    check()
    job_cancel(job=submitted)
    check()
    Job.objects.filter(pk=ended.pk).update(status="queued")  # back in flight (no path does this today)
    check()
    Job.objects.filter(user=alice).update(status="failed")  # in bulk
    check()
    _job(alice, "queued"), _job(alice, "running")
    check()
    Job.objects.filter(user=alice, status="queued").delete()
    check()
    with connection.cursor() as cursor:  # a statement of its own, past the ORM
        cursor.execute("UPDATE api_job SET status = 'canceled' WHERE user_id = %s", [alice.pk])
    check()
    assert steps == [(0, 0), (1, 1), (3, 3), (3, 3), (2, 2), (1, 1), (2, 2), (0, 0), (2, 2), (1, 1), (0, 0)]
    assert _kept(bob) == 0 and not JobsInFlight.objects.filter(user=bob).exists()


def test_the_cap_reads_it(alice, sent_tasks, settings) -> None:
    settings.JOB_MAX_IN_FLIGHT = 2
    first = _job(alice, "running")
    _job(alice, "succeeded")
    job_submit(user=alice, image=image_bytes())
    assert _kept(alice) == 2
    with pytest.raises(Problem) as refused:
        job_submit(user=alice, image=image_bytes())
    assert (refused.value.status_code, refused.value.slug) == (429, "too-many-jobs-in-flight")
    Job.objects.filter(pk=first.pk).update(status="succeeded")  # one ends: a place frees
    assert job_submit(user=alice, image=image_bytes()).job.status == "queued"
    assert (_kept(alice), _counted(alice)) == (2, 2)


def test_a_deleted_user_takes_its_row_along(alice, bob) -> None:
    _job(alice, "queued")
    _job(bob, "queued")
    alice.delete()
    assert list(JobsInFlight.objects.values_list("jobs", flat=True)) == [1]  # bob's
