from __future__ import annotations

import pytest
from freezegun import freeze_time

from billing.models import BillingPeriod
from tests.billing.factories import at, make_period
from workers.celery import app
from workers.schedule import BEAT_SCHEDULE
from workers.tasks.billing import mark_overdue_periods_task, roll_billing_periods_task


def test_beat_runs_both_tasks_on_the_maintenance_queue():
    tasks = {entry["task"] for entry in BEAT_SCHEDULE.values()}

    assert {
        "workers.tasks.billing.roll_billing_periods_task",
        "workers.tasks.billing.mark_overdue_periods_task",
    } <= tasks
    for name in tasks & {roll_billing_periods_task.name, mark_overdue_periods_task.name}:
        assert app.amqp.router.route({}, name)["queue"].name == "maintenance"


@freeze_time("2024-03-01 00:05:00")
def test_the_roll_task_closes_last_month_and_opens_this_one(alice):
    make_period(alice, month="2024-02")

    assert roll_billing_periods_task() == {"closed": 1, "settled": 1, "opened": 1}
    assert roll_billing_periods_task() == {"closed": 0, "settled": 0, "opened": 0}


@freeze_time("2024-03-15 00:05:00")
def test_the_overdue_task_marks_unpaid_periods_past_due(alice):
    make_period(alice, month="2024-02", status="closed", amount_micros=3, due_at=at("2024-03-15 00:00:00"))

    assert mark_overdue_periods_task() == {"overdue": 1}
    assert BillingPeriod.objects.get(user=alice).status == "overdue"


@pytest.mark.e2e
def test_a_real_worker_runs_the_roll_from_the_maintenance_queue(celery_worker_process, alice):
    make_period(alice, month="2020-01")

    result = roll_billing_periods_task.apply_async(queue="maintenance").get(timeout=30)

    assert result["closed"] == 1
    assert BillingPeriod.objects.get(user=alice, starts_at=at("2020-01-01 00:00:00")).status == "paid"
