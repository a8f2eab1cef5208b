"""webhook_deliveries_create_for_event: which job events become deliveries,
with what payload, published after commit."""

from __future__ import annotations

from api.models import Job
from api.representation import job_representation
from api.webhooks.models import WebhookDelivery
from api.webhooks.services import webhook_deliveries_create_for_event, webhook_settings_update
from tests.webhooks.conftest import make_job

URL = "http://127.0.0.1:9/hook"


def test_a_finished_job_with_a_webhook_gets_one_delivery_of_the_job_as_the_api_shows_it(
    alice, django_capture_on_commit_callbacks
) -> None:
    job = make_job(alice, webhook_url=URL)
    with django_capture_on_commit_callbacks() as callbacks:
        (delivery,) = webhook_deliveries_create_for_event(job=job, event_type="job.succeeded")
    assert len(callbacks) == 1  # the first attempt is published after commit
    assert delivery.status == WebhookDelivery.Status.PENDING
    assert delivery.url == URL
    assert delivery.webhook_id.startswith("msg_")
    assert delivery.request_id == job.request_id
    payload = delivery.payload
    assert set(payload) == {"type", "timestamp", "data"}
    assert payload["type"] == "job.succeeded"
    assert payload["data"] == job_representation(job)
    assert payload["data"]["status"] == "succeeded"


def test_every_terminal_event_is_delivered_by_default(alice) -> None:
    for event_type, status in (("job.failed", "failed"), ("job.canceled", "canceled")):
        job = make_job(alice, webhook_url=URL, status=status)
        assert len(webhook_deliveries_create_for_event(job=job, event_type=event_type)) == 1


def test_started_is_delivered_only_when_asked(alice) -> None:
    job = make_job(alice, webhook_url=URL, status=Job.Status.RUNNING)
    assert webhook_deliveries_create_for_event(job=job, event_type="job.started") == []
    job = make_job(alice, webhook_url=URL, status=Job.Status.RUNNING, webhook_events=["completed", "started"])
    (delivery,) = webhook_deliveries_create_for_event(job=job, event_type="job.started")
    assert delivery.payload["type"] == "job.started"


def test_a_job_without_a_webhook_gets_none(alice) -> None:
    job = make_job(alice)
    assert webhook_deliveries_create_for_event(job=job, event_type="job.succeeded") == []
    assert not WebhookDelivery.objects.exists()


def test_the_account_default_url_is_used_when_the_job_has_none(alice, bob) -> None:
    webhook_settings_update(user=alice, default_url=URL, default_events=["completed", "started"])
    job = make_job(alice, status=Job.Status.RUNNING)
    (delivery,) = webhook_deliveries_create_for_event(job=job, event_type="job.started")
    assert delivery.url == URL
    # Bob's jobs do not go to Alice's URL.
    assert webhook_deliveries_create_for_event(job=make_job(bob), event_type="job.succeeded") == []


def test_a_job_url_wins_over_the_default(alice) -> None:
    webhook_settings_update(user=alice, default_url="http://127.0.0.1:8/default")
    job = make_job(alice, webhook_url=URL)
    (delivery,) = webhook_deliveries_create_for_event(job=job, event_type="job.succeeded")
    assert delivery.url == URL


def test_a_default_url_disabled_by_410_gets_nothing(alice) -> None:
    account = webhook_settings_update(user=alice, default_url=URL)
    account.default_url_disabled_at = account.updated_at
    account.save()
    assert webhook_deliveries_create_for_event(job=make_job(alice), event_type="job.succeeded") == []


def test_a_run_sends_its_events_to_the_jobs_own_url_over_the_accounts_default(alice, bob, settings) -> None:
    """The claim reads the account's settings with the job, in the same
    statement (job_mark_running); each event goes where it should, and an
    account without settings gets nothing."""
    from tests.api.helpers import make_job as make_queued_job  # with an input image
    from workers.tasks.solve import solve_job_task

    settings.SOLVER = "mock"
    settings.MOCK_PROVIDER_LATENCY_MS = 0
    other = "http://127.0.0.1:9/default"
    webhook_settings_update(user=alice, default_url=other, default_events=["completed", "started"])
    webhook_settings_update(user=bob, default_url="http://127.0.0.1:9/bob", default_events=["completed"])

    own = make_queued_job(alice, webhook_url=URL)
    solve_job_task.apply(args=(str(own.pk),))
    assert list(WebhookDelivery.objects.filter(job=own).values_list("event_type", "url")) == [
        ("job.succeeded", URL)
    ]

    by_default = make_queued_job(alice)
    solve_job_task.apply(args=(str(by_default.pk),))
    assert sorted(WebhookDelivery.objects.filter(job=by_default).values_list("event_type", "url")) == [
        ("job.started", other),
        ("job.succeeded", other),
    ]

    from tests.factories import make_user

    without_settings = make_queued_job(make_user("carol@example.com"))
    solve_job_task.apply(args=(str(without_settings.pk),))
    without_settings.refresh_from_db()
    assert without_settings.status == "succeeded"
    assert not WebhookDelivery.objects.filter(job=without_settings).exists()
