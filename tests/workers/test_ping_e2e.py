"""A task through the real broker, executed by a real worker process, with
its result in the django-celery-results table and the HTTP request ID in the
worker's logs."""

from __future__ import annotations

import pytest
from django_celery_results.models import TaskResult

from config.request_id import set_request_id
from workers.tasks.health import ping_task

pytestmark = [pytest.mark.e2e]


def test_a_task_runs_on_a_real_worker_and_lands_in_the_results_table(celery_worker_process) -> None:
    set_request_id("req-e2e-ping-0001")
    try:
        result = ping_task.apply_async(queue="maintenance")
    finally:
        set_request_id(None)
    value = result.get(timeout=30)
    assert value["pong"] is True
    assert value["hostname"] == celery_worker_process.hostname
    assert value["request_id"] == "req-e2e-ping-0001"
    row = TaskResult.objects.get(task_id=result.id)
    assert row.status == "SUCCESS"
    assert row.task_name == "workers.tasks.health.ping_task"
    assert "[req-e2e-ping-0001]" in celery_worker_process.log()


def test_tasks_are_routed_to_their_queues() -> None:
    from workers.celery import app

    router = app.amqp.router
    assert router.route({}, "workers.tasks.health.ping_task")["queue"].name == "maintenance"  # the default
    assert router.route({}, "workers.tasks.solve.solve_job_task")["queue"].name == "solve"
    assert router.route({}, "workers.tasks.webhooks.deliver_webhook_task")["queue"].name == "webhooks"
    for name in ("solve", "webhooks", "maintenance"):
        queue = app.amqp.queues[name]
        assert (queue.exchange.name, queue.routing_key) == (name, name)


def test_the_worker_is_configured_for_safe_redelivery(settings) -> None:
    from workers.celery import app

    conf = app.conf
    assert conf.task_acks_late
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_serializer == "json"
    # Redis must not redeliver a message while its run may still be going.
    assert conf.broker_transport_options["visibility_timeout"] > settings.JOB_RUN_DEADLINE_S
    # Settings the threads pool would silently ignore are not set at all.
    assert not conf.task_reject_on_worker_lost and conf.task_time_limit is None
    # Flower's view of tasks; the publisher's "sent" event is off (CELERY_TASK_SEND_SENT_EVENT).
    assert conf.worker_send_task_events and not conf.task_send_sent_event
