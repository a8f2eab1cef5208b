from __future__ import annotations

from billing.services import periods_roll
from tests.billing.factories import at, make_period, make_usage

PROBLEM = "application/problem+json"


def test_it_lists_the_callers_periods_newest_first(alice, bob, alice_client):
    make_usage(alice, completed_at=at("2024-01-20 00:00:00"))
    make_usage(bob, completed_at=at("2024-01-20 00:00:00"))
    periods_roll(now=at("2024-02-01 00:05:00"))

    response = alice_client.get("/api/v1/billing/periods")

    assert response.status_code == 200
    results = response.json()["results"]
    assert [(p["starts_at"], p["status"]) for p in results] == [
        ("2024-02-01T00:00:00Z", "open"),
        ("2024-01-01T00:00:00Z", "closed"),
    ]
    assert results[1]["due_at"] is not None


def test_it_filters_periods_by_status(alice, alice_client):
    make_period(alice, month="2024-01", status="overdue", amount_micros=5)
    make_period(alice, month="2024-02")

    results = alice_client.get("/api/v1/billing/periods?status=overdue").json()["results"]

    assert [p["status"] for p in results] == ["overdue"]


def test_it_rejects_an_unknown_status(alice_client):
    response = alice_client.get("/api/v1/billing/periods?status=forgiven")

    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert "status" in response.json()["errors"]
