from __future__ import annotations

import pytest
from django.test import Client, override_settings

from api.webhooks.models import WebhookDelivery
from api.webhooks.services import (
    webhook_account_get_or_create,
    webhook_delivery_redeliver,
    webhook_secret_rotate,
)
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


def test_the_redeliver_action_skips_a_delivery_with_a_redelivery_in_flight(alice, admin_client_, receiver):
    delivery = make_delivery(alice, receiver.url)
    # Published, not yet sent (no worker here): the action leaves it be.
    webhook_delivery_redeliver(delivery=delivery)
    response = admin_client_.post(
        "/admin/webhooks/webhookdelivery/",
        {"action": "redeliver", "_selected_action": [str(delivery.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    assert "1 skipped: a redelivery of each is still in flight." in response.content.decode()


@override_settings(WEBHOOK_SECRET_ROTATION_OVERLAP_S=3600)
def test_operators_never_see_a_webhook_secret(alice, admin_client_) -> None:
    old = webhook_account_get_or_create(user=alice).secret
    account = webhook_secret_rotate(user=alice)
    assert account.previous_secret == old
    pages = [
        admin_client_.get(f"/admin/webhooks/webhookaccount/{account.pk}/change/"),
        admin_client_.get("/admin/webhooks/webhookaccount/"),
    ]
    for page in pages:
        assert page.status_code == 200
        html = page.content.decode()
        assert str(alice) in html
        for secret in (account.secret, old):
            assert secret not in html
            # Nor its base64 part alone (the whsec_ prefix is cosmetic).
            assert secret.removeprefix("whsec_") not in html


def test_operators_see_webhook_urls_without_credentials_or_query(alice, admin_client_) -> None:
    url = "http://user:s3cret-pass@127.0.0.1:9/hook?token=s3cret-token"
    # The API refuses credentials in webhook URLs now; rows stored before
    # that may still hold them, and the admin must not show them either.
    account = webhook_account_get_or_create(user=alice)
    account.default_url = url
    account.save(update_fields=["default_url"])
    delivery = make_delivery(alice, url)
    for path in (
        "/admin/webhooks/webhookdelivery/",
        f"/admin/webhooks/webhookdelivery/{delivery.pk}/change/",
        "/admin/webhooks/webhookaccount/",
        f"/admin/webhooks/webhookaccount/{account.pk}/change/",
    ):
        page = admin_client_.get(path)
        assert page.status_code == 200, path
        html = page.content.decode()
        assert "http://127.0.0.1:9/hook" in html, path
        assert "s3cret" not in html, path
