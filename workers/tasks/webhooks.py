"""Webhook delivery: one HTTP attempt per task on the `webhooks` queue (so a
slow receiver never holds a `solve` worker), and the beat task that publishes
the attempts that are due. No Celery retries here: the schedule lives in the
database (see api/webhooks/services.py)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from api.webhooks.services import webhook_deliveries_dispatch_due, webhook_delivery_attempt


@shared_task(bind=True, name="workers.tasks.webhooks.deliver_webhook_task", ignore_result=True)
def deliver_webhook_task(self: Any, delivery_id: str, number: int, manual: bool = False) -> None:
    webhook_delivery_attempt(
        delivery_id=delivery_id, number=number, manual=manual, task_id=self.request.id or ""
    )


@shared_task(name="workers.tasks.webhooks.dispatch_due_webhooks_task", ignore_result=True)
def dispatch_due_webhooks_task() -> int:
    return webhook_deliveries_dispatch_due()
