from __future__ import annotations

from billing.services import periods_roll
from tests.billing.factories import at, make_period, make_usage

PROBLEM = "application/problem+json"


def test_it_shows_one_period_with_its_frozen_totals(alice, alice_client):
    record = make_usage(alice, completed_at=at("2024-01-20 00:00:00"), input_tokens=4242)
    periods_roll(now=at("2024-02-01 00:05:00"))

    response = alice_client.get(f"/api/v1/billing/periods/{record.period_id}")

    assert response.status_code == 200
    body = response.json()
    assert (body["jobs_count"], body["input_tokens"]) == (1, 4242)
    assert body["amount_micros"] == record.cost_micros
    assert body["closed_at"] == "2024-02-01T00:05:00Z"


def test_another_accounts_period_is_404(bob, alice_client):
    bobs = make_period(bob, month="2024-01")

    response = alice_client.get(f"/api/v1/billing/periods/{bobs.pk}")

    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM
    assert response.json()["type"].endswith("/not-found")


def test_they_require_authentication(alice, client):
    period = make_period(alice, month="2024-01")

    for url in ["/api/v1/billing/periods", f"/api/v1/billing/periods/{period.pk}"]:
        response = client.get(url)
        assert response.status_code == 401, url
        assert response["Content-Type"] == PROBLEM


def test_they_answer_405_to_writes(alice, alice_client):
    period = make_period(alice, month="2024-01")

    listing = alice_client.post("/api/v1/billing/periods", {})
    detail = alice_client.delete(f"/api/v1/billing/periods/{period.pk}")

    assert (listing.status_code, detail.status_code) == (405, 405)
    assert listing["Content-Type"] == detail["Content-Type"] == PROBLEM
