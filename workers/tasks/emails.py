"""Outgoing email, on the default `maintenance` queue. The task takes plain
data (recipient, subject, body), composed by the code that publishes it, so it
needs no database and stays valid however long it waits in the queue.

A mail server that is down or answers with an error (SMTPException is an
OSError, like a refused or timed-out connection) is retried with exponential
backoff; after the last retry the task fails and the worker logs it. Messages
are acknowledged late (CELERY_TASK_ACKS_LATE), so a worker that dies while
sending leaves the message to another: at least once, rarely twice.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.core.mail import send_mail

MAX_RETRIES = 5


@shared_task(
    bind=True,
    name="workers.tasks.emails.send_email_task",
    ignore_result=True,  # no result row: the body may hold a secret link
    autoretry_for=(OSError,),
    max_retries=MAX_RETRIES,
    retry_backoff=5,  # 5, 10, 20, 40, 80 s, each jittered down
    retry_backoff_max=300,
    retry_jitter=True,
)
def send_email_task(self: Any, to: str, subject: str, body: str) -> None:
    send_mail(subject, body, None, [to])
