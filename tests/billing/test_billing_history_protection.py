from __future__ import annotations

import pytest
from django.db.models import ProtectedError

from accounts.models import User
from billing.models import BillingPeriod, UsageRecord
from tests.billing.factories import at, make_usage


def test_an_account_with_billing_history_cannot_be_deleted(alice):
    make_usage(alice, completed_at=at("2024-02-10 12:00:00"))

    with pytest.raises(ProtectedError):
        alice.delete()

    assert User.objects.filter(pk=alice.pk).exists()
    assert UsageRecord.objects.filter(user=alice).count() == 1
    assert BillingPeriod.objects.filter(user=alice).count() == 1


def test_an_account_without_billing_history_can_be_deleted(bob):
    bob.delete()
    assert not User.objects.filter(pk=bob.pk).exists()
