"""Idempotency-Key on POST /api/v1/solve (Stripe semantics)."""

from __future__ import annotations

from datetime import timedelta

from django.core.cache import cache

from api.models import Job
from tests.api.conftest import assert_problem
from tests.api.helpers import b64, image_bytes, stored_inputs


def _submit(client, key: str, **fields):
    body = {"image": b64(image_bytes()), **fields}
    return client.post("/api/v1/solve", body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_the_same_request_with_the_same_key_returns_the_original_job(alice_client) -> None:
    first = _submit(alice_client, "order-1", prompt="x")
    again = _submit(alice_client, "order-1", prompt="x")
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert Job.objects.count() == 1


def test_the_same_key_with_a_different_request_is_422(alice_client) -> None:
    _submit(alice_client, "order-2", prompt="x")
    response = _submit(alice_client, "order-2", prompt="y")
    assert_problem(response, 422, "idempotency-key-reused")
    assert Job.objects.count() == 1


def test_the_same_key_in_flight_is_409(alice, alice_client) -> None:
    # What a concurrent request holding the key leaves in the cache.
    import hashlib

    cache.add(f"jobs:idempotency:{alice.pk}:{hashlib.sha256(b'order-3').hexdigest()}", "other", 60)
    response = _submit(alice_client, "order-3")
    assert_problem(response, 409, "idempotency-key-in-use")
    assert response["Retry-After"] == "1"


def test_keys_are_per_user(alice_client, bob_client) -> None:
    mine = _submit(alice_client, "shared-key")
    theirs = _submit(bob_client, "shared-key")
    assert theirs.status_code == 202
    assert theirs.json()["id"] != mine.json()["id"]


def test_a_key_older_than_24_hours_starts_a_new_job(alice_client) -> None:
    first = _submit(alice_client, "order-4")
    Job.objects.filter(pk=first.json()["id"]).update(
        created_at=Job.objects.get().created_at - timedelta(hours=25)
    )
    again = _submit(alice_client, "order-4")
    assert again.status_code == 202
    assert again.json()["id"] != first.json()["id"]
    assert "Idempotent-Replayed" not in again


def test_an_over_long_key_is_refused(alice_client) -> None:
    assert_problem(_submit(alice_client, "k" * 256), 400, "invalid-idempotency-key")


def test_a_concurrent_twin_caught_by_the_unique_constraint_is_409(alice, alice_client, monkeypatch) -> None:
    # The twin committed between this request's look-up and its insert
    # (e.g. after the Redis lock expired): the unique (user, key) decides.
    from api import services

    first = _submit(alice_client, "order-9")
    assert first.status_code == 202
    monkeypatch.setattr(services, "_replay_or_conflict", lambda **kwargs: None)
    stored_before = stored_inputs()
    response = _submit(alice_client, "order-9")
    assert_problem(response, 409, "idempotency-key-in-use")
    assert Job.objects.count() == 1
    assert stored_inputs() == stored_before  # the second image was removed again


def test_another_integrity_error_is_not_taken_for_a_key_in_use(alice, monkeypatch) -> None:
    import pytest
    from django.db import IntegrityError

    from api import services

    def broken_insert(obj, select, params, **kwargs):
        raise IntegrityError("NOT NULL constraint failed: api_job.model")

    monkeypatch.setattr(services.rows, "insert_from", broken_insert)
    with pytest.raises(IntegrityError):
        services.job_submit(user=alice, image=image_bytes(), idempotency_key="order-10")
    with pytest.raises(IntegrityError):
        services.job_submit(user=alice, image=image_bytes())
