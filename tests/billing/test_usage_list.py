from __future__ import annotations

from django.db.models import Sum

from billing.models import UsageRecord
from billing.pricing import micros_to_usd
from tests.billing.factories import at, make_usage

PROBLEM = "application/problem+json"


def test_it_lists_the_callers_records_newest_first_with_their_prices(alice, bob, alice_client):
    old = make_usage(alice, completed_at=at("2024-01-31 23:59:59"), input_tokens=1000, cached_tokens=400)
    new = make_usage(alice, completed_at=at("2024-02-01 00:00:00"), model="gpt-4o", output_tokens=77)
    make_usage(bob, completed_at=at("2024-02-02 00:00:00"))

    response = alice_client.get("/api/v1/billing/usage")

    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["id"] for r in results] == [new.pk, old.pk]
    first = results[0]
    assert first["job_id"] == str(new.job_id)
    assert first["period_id"] == new.period_id
    assert (first["model"], first["output_tokens"]) == ("gpt-4o", 77)
    assert first["cost_micros"] == new.cost_micros
    assert first["cost_usd"] == micros_to_usd(new.cost_micros)
    assert first["output_price_per_million"] == "10.000000"
    assert first["completed_at"] == "2024-02-01T00:00:00Z"


def test_its_amounts_add_up_to_the_database_to_the_micro(alice, alice_client):
    for day in range(1, 8):
        make_usage(
            alice, completed_at=at(f"2024-03-0{day} 12:00:00"), input_tokens=day * 1234, cached_tokens=day
        )

    results = alice_client.get("/api/v1/billing/usage").json()["results"]

    assert sum(r["cost_micros"] for r in results) == UsageRecord.objects.aggregate(t=Sum("cost_micros"))["t"]


def test_it_pages_with_a_cursor(alice, alice_client):
    records = [make_usage(alice, completed_at=at(f"2024-03-0{day} 12:00:00")) for day in range(1, 6)]

    first = alice_client.get("/api/v1/billing/usage?page_size=2").json()
    second = alice_client.get(first["next"]).json()
    third = alice_client.get(second["next"]).json()

    ids = [r["id"] for page in (first, second, third) for r in page["results"]]
    assert ids == [r.pk for r in reversed(records)]
    assert third["next"] is None


def test_it_filters_by_period_and_by_date_range(alice, alice_client):
    january = make_usage(alice, completed_at=at("2024-01-15 00:00:00"))
    early_feb = make_usage(alice, completed_at=at("2024-02-01 00:00:00"))
    late_feb = make_usage(alice, completed_at=at("2024-02-29 23:59:59"))

    by_period = alice_client.get(f"/api/v1/billing/usage?period={january.period_id}").json()["results"]
    by_range = alice_client.get(
        "/api/v1/billing/usage",
        {"since": "2024-02-01T00:00:00Z", "until": "2024-02-29T23:59:59Z"},
    ).json()["results"]

    assert [r["id"] for r in by_period] == [january.pk]
    assert [r["id"] for r in by_range] == [early_feb.pk]
    assert late_feb.pk not in [r["id"] for r in by_range]


def test_another_accounts_period_filters_to_nothing(alice, bob, alice_client):
    make_usage(alice, completed_at=at("2024-01-15 00:00:00"))
    bobs = make_usage(bob, completed_at=at("2024-01-15 00:00:00"))

    response = alice_client.get(f"/api/v1/billing/usage?period={bobs.period_id}")

    assert response.status_code == 200
    assert response.json()["results"] == []


def test_it_rejects_bad_filters(alice_client):
    response = alice_client.get(
        "/api/v1/billing/usage",
        {"period": "abc", "since": "2024-02-02T00:00:00Z", "until": "2024-02-01T00:00:00Z"},
    )

    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["type"].endswith("/validation-error")
    assert "period" in body["errors"]

    reversed_range = alice_client.get(
        "/api/v1/billing/usage", {"since": "2024-02-02T00:00:00Z", "until": "2024-02-01T00:00:00Z"}
    )
    assert reversed_range.status_code == 400
    assert "until" in reversed_range.json()["errors"]


def test_it_requires_authentication(client):
    response = client.get("/api/v1/billing/usage")

    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM
    assert response.json()["type"].endswith("/not-authenticated")


def test_it_works_with_a_session_too(alice, client):
    make_usage(alice, completed_at=at("2024-01-15 00:00:00"))
    client.force_login(alice)

    response = client.get("/api/v1/billing/usage")

    assert response.status_code == 200
    assert len(response.json()["results"]) == 1


def test_it_answers_405_to_post(alice_client):
    response = alice_client.post("/api/v1/billing/usage", {})

    assert response.status_code == 405
    assert response["Content-Type"] == PROBLEM
    assert response.json()["type"].endswith("/method-not-allowed")
