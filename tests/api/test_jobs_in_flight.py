"""JobsInFlight: each user's count of jobs queued or running, kept by triggers
on the job table (migration 0005) whatever changes a job, and read by the
in-flight cap. On PostgreSQL and on SQLite (the embedded defaults)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from accounts.models import User
from api.models import Job, JobsInFlight
from api.services import (
    job_cancel,
    job_mark_failed,
    job_mark_running,
    job_mark_succeeded,
    job_rerun,
    job_submit,
)
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


def test_it_follows_a_job_through_the_workers_own_writes(alice, sent_tasks) -> None:
    """The claim, the success (one statement with its usage record, on
    PostgreSQL), a failure and an operator's rerun, as the workers write them."""
    submitted = [job_submit(user=alice, image=image_bytes()).job for _ in range(3)]
    first, second, third = submitted
    steps: list[tuple[int, int]] = []

    def check() -> None:
        steps.append((_kept(alice), _counted(alice)))

    claimed = job_mark_running(job_id=first.pk, task_id="run-1")
    assert claimed is not None
    check()  # running is still in flight
    assert job_mark_succeeded(
        job=claimed,
        task_id="run-1",
        result={"text": "x = 5", "final_answer": "5", "latex": []},
        model="gpt-4o-mini",
        input_tokens=10,
        cached_tokens=0,
        output_tokens=5,
    )
    check()
    assert job_mark_failed(job_id=second.pk, code="timeout", message="gone")
    check()
    assert job_rerun(job=Job.objects.get(pk=second.pk))
    check()
    job_cancel(job=third)
    check()
    assert steps == [(3, 3), (2, 2), (1, 1), (2, 2), (1, 1)]


@pytest.mark.django_db(transaction=True)
def test_the_migration_counts_the_jobs_there_are_and_its_reverse_stops_counting(alice, bob) -> None:
    before = [("api", "0004_job_lease")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        assert "api_jobs_in_flight" not in connection.introspection.table_names()
        # The job model as it was then, with no trigger behind it.
        old_job = executor.loader.project_state(before).apps.get_model("api", "Job")
        for user, status in [(alice, "queued"), (alice, "running"), (alice, "succeeded"), (bob, "failed")]:
            old_job.objects.create(user_id=user.pk, status=status, model="gpt-4o-mini")
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert dict(JobsInFlight.objects.values_list("user_id", "jobs")) == {alice.pk: 2}
    _job(bob, "queued")  # the trigger counts from here on
    assert _kept(bob) == 1
