"""task_publish_on_commit: the one way jobs, webhook deliveries and emails
are sent to the workers."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from celery.utils.saferepr import saferepr
from django.conf import LazySettings
from django.db import transaction

from workers.celery import app
from workers.publish import task_publish_on_commit

PING = "workers.tasks.health.ping_task"

pytestmark = pytest.mark.django_db


def test_nothing_is_sent_before_the_commit(sent_tasks, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        task_publish_on_commit(PING, args=["a", 2], request_id="req-1")
        assert sent_tasks == []
    assert sent_tasks == [
        {
            "name": PING,
            "args": ["a", 2],
            "kwargs": {},
            "ignore_result": True,
            "headers": {"request_id": "req-1"},
            # What Celery would show in events and logs, given rather than
            # built by its saferepr on every publish.
            "argsrepr": saferepr(["a", 2]),
            "kwargsrepr": saferepr({}),
        }
    ]


def test_nothing_is_sent_for_a_change_that_rolled_back(
    sent_tasks, django_capture_on_commit_callbacks
) -> None:
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        task_publish_on_commit(PING, args=["a"])
        raise RuntimeError("rolled back")
    assert sent_tasks == []


def test_keyword_arguments_can_be_hidden_from_events_and_logs(
    sent_tasks, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        task_publish_on_commit(PING, kwargs={"secret": "s3cr3t"}, kwargsrepr="{'secret': '…'}")
    [sent] = sent_tasks
    assert (sent["kwargs"], sent["kwargsrepr"]) == ({"secret": "s3cr3t"}, "{'secret': '…'}")
    assert "headers" not in sent  # no request ID: the publishing context's, if any (workers/celery.py)


def test_a_broker_that_is_down_is_logged_and_left_to_on_failure(
    unreachable_broker, django_capture_on_commit_callbacks, caplog
) -> None:
    failures: list[str] = []
    with caplog.at_level(logging.WARNING), django_capture_on_commit_callbacks(execute=True):
        task_publish_on_commit(PING, args=["job-1"], on_failure=lambda: failures.append("marked"))
    assert failures == ["marked"]
    [record] = [r for r in caplog.records if r.name == "workers.publish"]
    assert record.getMessage().startswith(f"could not publish {PING}('job-1') (OperationalError")
    assert record.exc_info is None  # an outage, not a bug: no traceback


def test_any_other_failure_is_logged_with_its_traceback_and_never_raised(
    monkeypatch, django_capture_on_commit_callbacks, caplog
) -> None:
    def broken(name, **options):
        raise TypeError("a bug")

    monkeypatch.setattr(app, "send_task", broken)
    failures: list[str] = []
    with caplog.at_level(logging.WARNING), django_capture_on_commit_callbacks(execute=True):
        task_publish_on_commit(PING, on_failure=lambda: failures.append("marked"))
    assert failures == ["marked"]
    [record] = [r for r in caplog.records if r.name == "workers.publish"]
    assert record.exc_info is not None and record.exc_info[0] is TypeError


def test_eager_tasks_run_in_this_process(monkeypatch, django_capture_on_commit_callbacks) -> None:
    # Celery's send_task ignores task_always_eager; tests and development
    # settings that set it expect the task to run here, as apply_async does.
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    ran: list[str] = []
    from workers.tasks.health import ping_task

    monkeypatch.setattr(ping_task, "run", lambda: ran.append("pong"))
    with django_capture_on_commit_callbacks(execute=True):
        task_publish_on_commit(PING, request_id="req-2")
    assert ran == ["pong"]


def test_a_publish_reads_no_setting_the_settings_lack(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks
) -> None:
    """Celery looks a setting the Django settings lack up under three names,
    each an AttributeError: 10-15 µs a lookup, on every submission. Those a
    publish reads are written out in config/settings.py."""
    missing: list[str] = []
    original = LazySettings.__getattr__

    def getattr_counted(self: LazySettings, name: str) -> object:
        try:
            return original(self, name)
        except AttributeError:
            missing.append(name)
            raise

    with app.connection_for_write() as connection:
        channel: Any = connection.default_channel
        channel.queue_purge("maintenance")
        # The first makes the publishing connection, which reads more, once.
        with django_capture_on_commit_callbacks(execute=True):
            task_publish_on_commit(PING)
        with monkeypatch.context() as patched:
            patched.setattr(LazySettings, "__getattr__", getattr_counted)
            with django_capture_on_commit_callbacks(execute=True):
                task_publish_on_commit(PING)
        sent = channel.queue_purge("maintenance")
    assert sent == 2  # both went out
    assert missing == []
