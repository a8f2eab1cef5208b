"""The Celery app: `celery -A workers worker|beat|flower` (bin/worker starts
its workers through workers/command.py).

Configured from Django settings (the CELERY_ namespace). Four queues: `solve`
(calls to the model, I/O-bound), `local` (the local solver, CPU-bound),
`webhooks` (outbound HTTP) and `maintenance` (beat tasks). The request ID
of the HTTP request that published a task travels in the message headers and
is restored in the worker, so its log lines carry it.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, Task, signals
from kombu import Exchange, Queue

from workers import broker
from workers.schedule import BEAT_SCHEDULE

broker.install()

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

QUEUES = ("solve", "local", "webhooks", "maintenance")

app = Celery("imagesolve")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each queue with its own direct exchange and routing key: a bare Queue(name)
# would inherit the default queue's exchange and key.
app.conf.task_queues = [Queue(name, Exchange(name), routing_key=name) for name in QUEUES]
app.autodiscover_tasks()
# Written into django-celery-beat's tables when beat starts (visible and
# editable in the admin); see workers/schedule.py.
app.conf.beat_schedule = BEAT_SCHEDULE

REQUEST_ID_HEADER = "request_id"


@signals.before_task_publish.connect
def _add_request_id_header(headers: dict[str, Any] | None = None, **_: Any) -> None:
    from config.request_id import get_request_id

    if headers is not None and not headers.get(REQUEST_ID_HEADER):
        request_id = get_request_id()
        if request_id:
            headers[REQUEST_ID_HEADER] = request_id


@signals.task_prerun.connect
def _restore_request_id(task: Task | None = None, task_id: str | None = None, **_: Any) -> None:
    from config.request_id import set_request_id

    request_id = getattr(task.request, REQUEST_ID_HEADER, None) if task is not None else None
    # Tasks started by beat have no request: their own task ID stands in.
    set_request_id(request_id or (f"task-{task_id}" if task_id else None))


@signals.task_postrun.connect
def _clear_request_id(**_: Any) -> None:
    from config.request_id import set_request_id

    set_request_id(None)


@signals.setup_logging.connect
def _use_django_logging(**_: Any) -> None:
    # Celery keeps its hands off logging; Django's LOGGING (text or JSON, with
    # the request ID filter) applies to worker and beat too.
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
