from __future__ import annotations

import uuid

from tests.fakes.webhook_receiver import Reply
from tests.webhooks.conftest import make_delivery, make_job
from workers.tasks.webhooks import deliver_webhook_task

PROBLEM = "application/problem+json"


def test_it_lists_a_jobs_deliveries_with_their_attempts(alice, alice_client, receiver) -> None:
    receiver.script(Reply(500, b"nope"), Reply(200))
    delivery = make_delivery(alice, receiver.url)
    deliver_webhook_task.apply(args=(str(delivery.pk), 1))
    deliver_webhook_task.apply(args=(str(delivery.pk), 2))

    response = alice_client.get(f"/api/v1/jobs/{delivery.job_id}/webhook-deliveries")
    assert response.status_code == 200
    (item,) = response.json()["results"]
    assert item["id"] == str(delivery.pk)
    assert item["webhook_id"] == delivery.webhook_id
    assert item["job_id"] == str(delivery.job_id)
    assert item["event_type"] == "job.succeeded"
    assert item["status"] == "succeeded"
    assert item["attempt_count"] == 2
    assert item["payload"]["type"] == "job.succeeded"
    assert item["payload"]["data"]["id"] == str(delivery.job_id)
    first, second = item["attempts"]
    assert (first["number"], first["status_code"], first["response_body"]) == (1, 500, "nope")
    assert (second["number"], second["status_code"]) == (2, 200)
    assert first["latency_ms"] is not None and first["started_at"]


def test_a_job_without_deliveries_lists_none(alice, alice_client) -> None:
    job = make_job(alice)
    response = alice_client.get(f"/api/v1/jobs/{job.id}/webhook-deliveries")
    assert response.status_code == 200
    assert response.json() == {"results": []}


def test_another_users_job_is_404(alice, bob_client, receiver) -> None:
    delivery = make_delivery(alice, receiver.url)
    for job_id in (delivery.job_id, uuid.uuid4()):
        response = bob_client.get(f"/api/v1/jobs/{job_id}/webhook-deliveries")
        assert response.status_code == 404
        assert response["Content-Type"] == PROBLEM
        assert response.json()["type"].endswith("/not-found")


def test_a_malformed_job_id_is_404(alice_client) -> None:
    response = alice_client.get("/api/v1/jobs/not-a-uuid/webhook-deliveries")
    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM


def test_it_needs_authentication(client, alice) -> None:
    response = client.get(f"/api/v1/jobs/{make_job(alice).id}/webhook-deliveries")
    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM


def test_wrong_method_is_405(alice, alice_client) -> None:
    response = alice_client.post(f"/api/v1/jobs/{make_job(alice).id}/webhook-deliveries")
    assert response.status_code == 405
    assert response["Content-Type"] == PROBLEM
    assert response.json()["type"].endswith("/method-not-allowed")
