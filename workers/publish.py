"""Publishing a task once the current transaction commits, the one way jobs,
webhook deliveries and emails are sent to the workers.

After the commit, so a worker never looks for a row that is not there yet
and nothing goes out about a change that rolled back; outside a transaction
(autocommit), at once. By name, so the domain apps never import task
modules. A failed publish (the broker is down) is logged, never raised: the
caller's change is committed and must not turn into an error for nothing;
`on_failure` then leaves a mark for the sweep that publishes it again."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import kombu.exceptions
import redis
from django.db import transaction

logger = logging.getLogger(__name__)

# What a broker outage raises from a publish; anything else is a bug and is
# logged with its traceback.
_BROKER_ERRORS = (kombu.exceptions.OperationalError, redis.RedisError, OSError)


def task_publish_on_commit(
    name: str,
    *,
    args: Sequence[Any] = (),
    kwargs: dict[str, Any] | None = None,
    request_id: str = "",
    kwargsrepr: str | None = None,
    on_failure: Callable[[], None] | None = None,
) -> None:
    """Publish task `name` once the current transaction commits.

    `request_id` travels in the message headers (the worker's log lines carry
    it); `kwargsrepr` replaces the arguments in task events and logs when they
    hold a secret. `on_failure` runs, in its own transaction, when the
    publish fails."""

    def send() -> None:
        from workers.celery import REQUEST_ID_HEADER, app

        # The arguments are IDs, shown as they are; without these Celery
        # builds both with its reprlib-style saferepr on every publish.
        options: dict[str, Any] = {"argsrepr": repr(list(args))}
        if not kwargs:
            options["kwargsrepr"] = "{}"
        if request_id:
            options["headers"] = {REQUEST_ID_HEADER: request_id}
        if kwargsrepr is not None:
            options["kwargsrepr"] = kwargsrepr
        try:
            if app.conf.task_always_eager:
                # send_task ignores this setting (a Celery warning says so);
                # the task's own apply_async honours it and runs it here.
                import workers.tasks  # noqa: F401  (registers every task)

                app.tasks[name].apply_async(args=tuple(args), kwargs=kwargs or {}, **options)
            else:
                app.send_task(name, args=list(args), kwargs=kwargs or {}, ignore_result=True, **options)
        except Exception as exc:
            # The arguments are IDs; keyword arguments may hold a secret.
            task = f"{name}({', '.join(map(repr, args))})"
            if isinstance(exc, _BROKER_ERRORS):
                logger.warning("could not publish %s (%s: %s)", task, type(exc).__name__, exc)
            else:
                logger.exception("could not publish %s", task)
            if on_failure is not None:
                on_failure()

    transaction.on_commit(send, robust=True)
