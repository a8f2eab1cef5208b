from __future__ import annotations

from django.test import Client

from billing.models import BillingPeriod
from billing.pricing import micros_to_usd
from tests.billing.factories import at, make_period, make_usage


def _admin_client(user) -> Client:
    user.is_superuser = True
    user.save(update_fields=["is_superuser"])
    client = Client()
    client.force_login(user)
    return client


def test_the_period_list_shows_the_totals_of_the_filtered_periods(alice, bob, operator):
    make_period(alice, month="2024-01", status="overdue", amount_micros=1_500_000)
    make_period(bob, month="2024-01", status="overdue", amount_micros=250_000)
    make_period(bob, month="2024-02", status="paid", amount_micros=999)

    response = _admin_client(operator).get("/admin/billing/billingperiod/?status__exact=overdue")

    assert response.status_code == 200
    assert response.context["billing_totals"]["amount_usd"] == micros_to_usd(1_750_000)
    assert "Totals of the 2 filtered rows: 1.750000 USD" in " ".join(response.content.decode().split())


def test_the_mark_paid_action_pays_closed_and_overdue_periods_only(alice, operator):
    overdue = make_period(alice, month="2024-01", status="overdue", amount_micros=5)
    still_open = make_period(alice, month="2024-02")

    response = _admin_client(operator).post(
        "/admin/billing/billingperiod/",
        {"action": "mark_paid", "_selected_action": [overdue.pk, still_open.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert BillingPeriod.objects.get(pk=overdue.pk).status == "paid"
    assert BillingPeriod.objects.get(pk=still_open.pk).status == "open"
    messages = [str(m) for m in response.context["messages"]]
    assert "1 period(s) marked paid." in messages


def test_the_usage_list_is_a_read_only_ledger_with_totals(alice, operator):
    records = [make_usage(alice, completed_at=at(f"2024-01-0{d} 00:00:00")) for d in (1, 2)]
    client = _admin_client(operator)

    listing = client.get("/admin/billing/usagerecord/?q=alice")
    change = client.post(f"/admin/billing/usagerecord/{records[0].pk}/change/", {"cost_micros": 0})

    assert listing.status_code == 200
    assert listing.context["billing_totals"]["amount"] == sum(r.cost_micros for r in records)
    assert change.status_code == 403
    records[0].refresh_from_db()
    assert records[0].cost_micros > 0
