"""The beat schedule as django-celery-beat stores it: every entry expires
before its next run, so runs missed while the maintenance worker is down or
busy never pile up."""

from __future__ import annotations

from datetime import timedelta

from celery.schedules import crontab
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import ModelEntry

from workers.celery import app
from workers.schedule import BEAT_SCHEDULE


def _interval(every: float | crontab) -> timedelta:
    if isinstance(every, crontab):
        # The schedule's crontabs name one minute of every hour.
        assert repr(every).startswith("<crontab: ") and " * * * * " in repr(every), repr(every)
        return timedelta(hours=1)
    return timedelta(seconds=every)


def test_every_beat_entry_expires_before_its_next_run(db) -> None:
    for name, entry in BEAT_SCHEDULE.items():
        ModelEntry.from_entry(name, app=app, **entry)
        stored = PeriodicTask.objects.get(name=name)
        assert stored.expire_seconds, name
        assert timedelta(seconds=stored.expire_seconds) < _interval(entry["schedule"]), name
        # What beat passes to apply_async when it sends the task.
        assert ModelEntry(stored, app=app).options["expires"] == stored.expire_seconds


def test_recovery_runs_often_enough_to_restart_a_dead_workers_jobs_within_30_s(settings) -> None:
    every = _interval(BEAT_SCHEDULE["recover-expired-jobs"]["schedule"])
    assert timedelta(seconds=settings.JOB_LEASE_S) + every <= timedelta(seconds=25)
