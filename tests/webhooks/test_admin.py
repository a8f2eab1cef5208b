from __future__ import annotations

import pytest
from django.test import Client

from api.webhooks.models import WebhookDelivery
from tests.webhooks.conftest import make_delivery


@pytest.fixture
def admin_client_(operator) -> Client:
    operator.is_superuser = True
    operator.save(update_fields=["is_superuser"])
    client = Client()
    client.force_login(operator)
    return client


def test_operators_list_deliveries_with_filters_and_see_attempts(alice, admin_client_, receiver) -> None:
    delivery = make_delivery(alice, receiver.url)
    listing = admin_client_.get(
        "/admin/webhooks/webhookdelivery/?status__exact=pending&q=" + delivery.webhook_id
    )
    assert listing.status_code == 200
    assert delivery.webhook_id in listing.content.decode()
    assert admin_client_.get("/admin/webhooks/webhookdelivery/?status__exact=failed").status_code == 200
    assert admin_client_.get(f"/admin/webhooks/webhookdelivery/{delivery.pk}/change/").status_code == 200
    assert admin_client_.get("/admin/webhooks/webhookattempt/").status_code == 200
    page = admin_client_.get("/admin/webhooks/webhookaccount/")
    assert page.status_code == 200


def test_the_redeliver_action_sends_again(
    alice, admin_client_, receiver, eager_tasks, django_capture_on_commit_callbacks
):
    delivery = make_delivery(alice, receiver.url)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=WebhookDelivery.Status.FAILED)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(
            "/admin/webhooks/webhookdelivery/",
            {"action": "redeliver", "_selected_action": [str(delivery.pk)]},
        )
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert len(receiver.requests) == 1
