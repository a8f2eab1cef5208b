from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from billing.models import BillingPeriod
from billing.selectors import overdue_period_for_user
from tests.billing.factories import make_period

PROBLEM = "application/problem+json"


@pytest.fixture
def operator_client(operator) -> APIClient:
    api = APIClient()
    api.force_authenticate(operator)
    return api


def test_an_operator_marks_an_overdue_period_paid_which_lifts_the_block(alice, operator_client):
    period = make_period(alice, month="2024-02", status="overdue", amount_micros=12_345)
    assert overdue_period_for_user(user_id=alice.pk) == period

    response = operator_client.post(f"/api/v1/billing/periods/{period.pk}/mark-paid")

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["status"], body["amount_usd"]) == (period.pk, "paid", "0.012345")
    period.refresh_from_db()
    assert period.status == "paid"
    assert period.paid_at is not None
    assert overdue_period_for_user(user_id=alice.pk) is None


def test_paying_a_paid_period_again_keeps_the_first_payment(alice, operator_client):
    period = make_period(alice, month="2024-02", status="paid", amount_micros=1)
    paid_at = period.paid_at

    response = operator_client.post(f"/api/v1/billing/periods/{period.pk}/mark-paid")

    assert response.status_code == 200
    period.refresh_from_db()
    assert period.paid_at == paid_at


def test_it_refuses_to_mark_an_open_period_paid(alice, operator_client):
    period = make_period(alice, month="2024-02")

    response = operator_client.post(f"/api/v1/billing/periods/{period.pk}/mark-paid")

    assert response.status_code == 409
    assert response["Content-Type"] == PROBLEM
    assert response.json()["type"].endswith("/billing-period-open")
    assert BillingPeriod.objects.get(pk=period.pk).status == "open"


def test_an_unknown_period_is_404(operator_client):
    response = operator_client.post("/api/v1/billing/periods/999999/mark-paid")

    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM
    assert response.json()["type"].endswith("/not-found")


def test_a_customer_cannot_mark_even_their_own_period_paid(alice, alice_client):
    period = make_period(alice, month="2024-02", status="overdue", amount_micros=1)

    response = alice_client.post(f"/api/v1/billing/periods/{period.pk}/mark-paid")

    assert response.status_code == 403
    assert response["Content-Type"] == PROBLEM
    assert response.json()["type"].endswith("/permission-denied")
    assert BillingPeriod.objects.get(pk=period.pk).status == "overdue"


def test_it_requires_authentication(alice, client):
    period = make_period(alice, month="2024-02", status="closed", amount_micros=1)

    response = client.post(f"/api/v1/billing/periods/{period.pk}/mark-paid")

    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM
    assert response.json()["type"].endswith("/not-authenticated")


def test_it_answers_405_to_get(alice, operator_client):
    period = make_period(alice, month="2024-02", status="closed", amount_micros=1)

    response = operator_client.get(f"/api/v1/billing/periods/{period.pk}/mark-paid")

    assert response.status_code == 405
    assert response["Content-Type"] == PROBLEM
    assert response.json()["type"].endswith("/method-not-allowed")
