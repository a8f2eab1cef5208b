from __future__ import annotations

from django.db.models import Sum
from freezegun import freeze_time

from billing.models import UsageRecord
from billing.pricing import micros_to_usd
from billing.services import periods_roll
from tests.billing.factories import at, make_usage

PROBLEM = "application/problem+json"


@freeze_time("2024-03-01 08:00:00")
def test_it_sums_the_current_month_day_by_day_and_shows_the_last_closed_period(alice, bob, alice_client):
    make_usage(alice, completed_at=at("2024-02-29 23:59:59"), input_tokens=5000)
    periods_roll(now=at("2024-03-01 00:05:00"))
    a = make_usage(alice, completed_at=at("2024-03-01 00:00:01"), input_tokens=1111, cached_tokens=11)
    b = make_usage(alice, completed_at=at("2024-03-01 07:59:59"), model="gpt-4o", output_tokens=333)
    make_usage(bob, completed_at=at("2024-03-01 01:00:00"))

    response = alice_client.get("/api/v1/billing/summary")

    assert response.status_code == 200
    body = response.json()
    current = body["current_period"]
    assert (current["starts_at"], current["ends_at"]) == ("2024-03-01T00:00:00Z", "2024-04-01T00:00:00Z")
    assert current["id"] == a.period_id
    assert current["jobs"] == 2
    assert current["input_tokens"] == a.input_tokens + b.input_tokens
    assert current["cached_tokens"] == 11
    assert current["amount_micros"] == a.cost_micros + b.cost_micros
    assert current["amount_usd"] == micros_to_usd(a.cost_micros + b.cost_micros)
    assert [d["date"] for d in current["days"]] == ["2024-03-01"]
    assert current["days"][0]["amount_micros"] == current["amount_micros"]
    closed = body["last_closed_period"]
    assert closed["starts_at"] == "2024-02-01T00:00:00Z"
    assert closed["status"] == "closed"
    assert (
        closed["amount_micros"]
        == UsageRecord.objects.filter(period_id=closed["id"]).aggregate(t=Sum("cost_micros"))["t"]
    )


@freeze_time("2024-02-29 12:00:00")
def test_its_days_split_at_utc_midnight_and_agree_with_the_database(alice, alice_client):
    for when in [
        "2024-02-27 23:59:59.999999",
        "2024-02-28 00:00:00",
        "2024-02-29 11:00:00",
        "2024-02-29 11:30:00",
    ]:
        make_usage(alice, completed_at=at(when), input_tokens=987_654, cached_tokens=3, output_tokens=4321)

    current = alice_client.get("/api/v1/billing/summary").json()["current_period"]

    assert [(d["date"], d["jobs"]) for d in current["days"]] == [
        ("2024-02-27", 1),
        ("2024-02-28", 1),
        ("2024-02-29", 2),
    ]
    in_db = UsageRecord.objects.filter(user=alice).aggregate(t=Sum("cost_micros"))["t"]
    assert current["amount_micros"] == in_db
    assert sum(d["amount_micros"] for d in current["days"]) == in_db


@freeze_time("2024-05-05 12:00:00")
def test_a_new_account_sees_an_empty_month(alice_client):
    body = alice_client.get("/api/v1/billing/summary").json()

    assert body["current_period"]["id"] is None
    assert (body["current_period"]["jobs"], body["current_period"]["amount_usd"]) == (0, "0.000000")
    assert body["current_period"]["days"] == []
    assert body["last_closed_period"] is None


def test_it_ignores_query_parameters_it_does_not_know(alice_client):
    response = alice_client.get("/api/v1/billing/summary?period=nonsense")

    assert response.status_code == 200


def test_it_requires_authentication(client):
    response = client.get("/api/v1/billing/summary")

    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM


def test_it_answers_405_to_delete(alice_client):
    response = alice_client.delete("/api/v1/billing/summary")

    assert response.status_code == 405
    assert response["Content-Type"] == PROBLEM
    assert response.json()["type"].endswith("/method-not-allowed")
