"""Leases on running jobs: taken with the claim, renewed while the run lasts,
and taken back by the recovery task when nobody renews them; a run that lost
its lease cannot record (or bill) its answer. Database outages met by a run."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from celery.exceptions import Retry
from django.db import OperationalError
from django.utils import timezone

import tests.fakes.openai_server as fake_api
from api.models import Job
from api.services import job_leases_renew, job_mark_running, jobs_recover_expired
from billing.models import UsageRecord
from tests.api.helpers import make_job
from workers import leases, runs
from workers.tasks import solve
from workers.tasks.recovery import recover_expired_jobs_task
from workers.tasks.solve import solve_job_task

openai_server = fake_api.openai_server
fake_openai = fake_api.fake_openai


def _running(user, *, task_id: str, lease_in_s: float) -> Job:
    now = timezone.now()
    return make_job(
        user,
        status=Job.Status.RUNNING,
        worker_task_id=task_id,
        attempts=1,
        started_at=now,
        deadline_at=now + timedelta(hours=1),
        lease_expires_at=now + timedelta(seconds=lease_in_s),
    )


def test_a_claim_takes_a_lease(alice, settings) -> None:
    job = make_job(alice)
    claimed = job_mark_running(job_id=job.pk, task_id="run-1")
    assert claimed is not None and claimed.lease_expires_at is not None
    expected = timezone.now() + timedelta(seconds=settings.JOB_LEASE_S)
    assert abs((claimed.lease_expires_at - expected).total_seconds()) < 2


def test_renewal_extends_only_the_leases_still_held(alice, settings) -> None:
    mine = _running(alice, task_id="run-1", lease_in_s=1)
    taken_over = _running(alice, task_id="run-2", lease_in_s=1)
    finished = _running(alice, task_id="run-3", lease_in_s=1)
    Job.objects.filter(pk=finished.pk).update(status=Job.Status.SUCCEEDED)

    renewed = job_leases_renew(
        claims=[(str(mine.pk), "run-1"), (str(taken_over.pk), "stale-run"), (str(finished.pk), "run-3")]
    )

    assert renewed == 1
    later = timezone.now() + timedelta(seconds=settings.JOB_LEASE_S - 2)
    renewed_until = Job.objects.get(pk=mine.pk).lease_expires_at
    assert renewed_until is not None and renewed_until > later
    for other in (taken_over, finished):
        assert Job.objects.get(pk=other.pk).lease_expires_at == other.lease_expires_at


def test_a_running_job_whose_lease_ran_out_is_queued_again(alice, django_capture_on_commit_callbacks) -> None:
    dead = _running(alice, task_id="dead-worker", lease_in_s=-1)
    alive = _running(alice, task_id="live-worker", lease_in_s=10)
    with django_capture_on_commit_callbacks() as published:
        assert recover_expired_jobs_task() == {"requeued": 1, "failed": 0}
    assert len(published) == 1
    dead.refresh_from_db()
    assert (dead.status, dead.worker_task_id, dead.lease_expires_at) == (Job.Status.QUEUED, "", None)
    assert Job.objects.get(pk=alive.pk).status == Job.Status.RUNNING


def test_a_job_whose_lease_ran_out_can_be_claimed_by_a_new_run(alice) -> None:
    job = _running(alice, task_id="dead-worker", lease_in_s=-1)
    claimed = job_mark_running(job_id=job.pk, task_id="new-run")
    assert claimed is not None
    assert (claimed.worker_task_id, claimed.attempts) == ("new-run", 2)


def test_a_late_answer_from_a_run_that_lost_its_lease_is_discarded_unbilled(
    alice, fake_openai, monkeypatch
) -> None:
    """The run's worker stalls past its lease (no renewal reached the
    database); recovery takes the job back while the call is under way. The
    stalled run's answer is refused; the next run's answer is billed, once."""
    job = make_job(alice)
    from workers.providers import openai_provider

    real_solve = openai_provider.OpenAIProvider.solve
    calls: list[object] = []

    def solve_while_the_lease_runs_out(self, request):
        answer = real_solve(self, request)
        if not calls:
            Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
            assert jobs_recover_expired() == (1, 0)
        calls.append(answer)
        return answer

    monkeypatch.setattr(openai_provider.OpenAIProvider, "solve", solve_while_the_lease_runs_out)
    solve_job_task.apply(args=(str(job.pk),), task_id="stalled-run")
    job.refresh_from_db()
    assert (job.status, job.worker_task_id) == (Job.Status.QUEUED, "")
    assert not UsageRecord.objects.exists()

    solve_job_task.apply(args=(str(job.pk),), task_id="next-run")
    job.refresh_from_db()
    assert (job.status, job.attempts) == (Job.Status.SUCCEEDED, 2)
    assert UsageRecord.objects.filter(job=job).count() == 1
    assert len(calls) == 2


def test_the_worker_renews_a_lease_while_the_run_lasts(transactional_db, alice, settings) -> None:
    # A renewer an earlier test started still sleeps its old interval; it
    # ends by itself once nothing is held.
    previous = leases._renewer
    if previous is not None:
        previous.join(10)
    settings.JOB_LEASE_RENEW_S = 0.2
    job = _running(alice, task_id="run-1", lease_in_s=1)
    first_lease = job.lease_expires_at
    assert first_lease is not None
    with leases.held(job_id=str(job.pk), task_id="run-1"):
        time.sleep(1.0)
        renewed = Job.objects.get(pk=job.pk).lease_expires_at
    assert renewed is not None and renewed > first_lease + timedelta(seconds=settings.JOB_LEASE_S - 2)
    # Nothing held: the renewing thread stops and renews nothing more.
    time.sleep(0.6)
    assert leases._renewer is None
    Job.objects.filter(pk=job.pk).update(lease_expires_at=job.lease_expires_at)
    time.sleep(0.4)
    assert Job.objects.get(pk=job.pk).lease_expires_at == job.lease_expires_at


def test_an_answer_is_recorded_through_a_database_restart(alice, fake_openai, monkeypatch) -> None:
    """The database drops the connection as the answer is written: the write
    is tried again on a new connection; the model is not called again."""
    real_mark_succeeded = runs.job_mark_succeeded
    failures: list[int] = []

    def connection_lost_once(**kwargs):
        if not failures:
            failures.append(1)
            raise OperationalError("server closed the connection unexpectedly")
        return real_mark_succeeded(**kwargs)

    monkeypatch.setattr(runs, "job_mark_succeeded", connection_lost_once)
    job = make_job(alice)
    solve_job_task.apply(args=(str(job.pk),))
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    assert UsageRecord.objects.filter(job=job).count() == 1
    assert len(fake_openai.completions()) == 1


def test_an_answer_that_cannot_be_recorded_leaves_the_job_to_recovery(
    alice, fake_openai, monkeypatch
) -> None:
    """The database stays away longer than the run will wait: the job is not
    failed (the answer was fine); it keeps its lease, which runs out, and the
    recovery task runs it again."""
    monkeypatch.setattr(runs, "DATABASE_RECORD_BUDGET_S", 1)

    def database_down(**kwargs):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(runs, "job_mark_succeeded", database_down)
    job = make_job(alice)
    solve_job_task.apply(args=(str(job.pk),))
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING
    assert not UsageRecord.objects.exists()
    Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert jobs_recover_expired() == (1, 0)


@pytest.mark.parametrize("task_name", ["solve", "local"])
def test_a_claim_while_the_database_is_down_is_tried_again_later(alice, monkeypatch, task_name) -> None:
    """Both tasks claim through solve.claim."""
    from workers.tasks.local import solve_local_task

    task = {"solve": solve_job_task, "local": solve_local_task}[task_name]

    def database_down(**kwargs):
        raise OperationalError("could not connect to server")

    countdowns = []

    def fake_retry(*, countdown, exc, **_):
        countdowns.append(countdown)
        return Retry(exc=exc, when=countdown)

    monkeypatch.setattr(solve, "job_mark_running", database_down)
    monkeypatch.setattr(task, "retry", fake_retry)
    job = make_job(alice)
    task.apply(args=(str(job.pk),))
    assert countdowns == [solve.DATABASE_RETRY_S]
    assert Job.objects.get(pk=job.pk).status == Job.Status.QUEUED
