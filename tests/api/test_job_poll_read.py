"""A poll of a job through a bearer token reads the token, its user, the job
and its usage in one statement (accounts.authentication.ReadAlong, offered
by the view as api.selectors.job_read_along). The answers must be those of
two reads: the owner's job, 404 for another's or none, 401 before anything
for a bad token, and the session's path unchanged."""

from __future__ import annotations

import time
import uuid

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from api.models import Job
from api.representation import job_representation
from tests.api.conftest import assert_problem
from tests.api.helpers import make_job
from tests.billing.factories import make_usage
from tests.factories import PASSWORD, make_token


def _bearer(raw: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return api


def test_a_poll_is_one_statement_and_answers_the_job(alice, alice_client) -> None:
    job = make_job(alice, prompt="p", metadata={"a": "b"})
    alice_client.get(f"/api/v1/jobs/{job.id}")  # the token's last_used_at written once
    with CaptureQueriesContext(connection) as queries:
        response = alice_client.get(f"/api/v1/jobs/{job.id}")
    assert response.status_code == 200
    assert response.json() == job_representation(Job.objects.select_related("usage").get(pk=job.pk))
    assert len(queries.captured_queries) == 1


def test_a_billed_job_comes_with_its_usage(alice, alice_client) -> None:
    usage = make_usage(alice, completed_at=timezone.now(), input_tokens=1234)
    body = alice_client.get(f"/api/v1/jobs/{usage.job_id}").json()
    assert body["status"] == "succeeded"
    assert body["usage"]["input_tokens"] == 1234
    assert body == job_representation(Job.objects.select_related("usage").get(pk=usage.job_id))


def test_another_accounts_job_is_404_as_a_missing_one(alice, bob, bob_client) -> None:
    job = make_job(alice)
    assert_problem(bob_client.get(f"/api/v1/jobs/{job.id}"), 404, "not-found")
    assert_problem(bob_client.get(f"/api/v1/jobs/{uuid.uuid4()}"), 404, "not-found")


def test_an_unknown_or_revoked_token_is_401_even_for_an_existing_job(alice) -> None:
    job = make_job(alice)
    assert_problem(_bearer("tok_" + "x" * 43).get(f"/api/v1/jobs/{job.id}"), 401, "authentication-failed")
    token, raw = make_token(alice, name="old")
    token.revoked_at = timezone.now()
    token.save()
    assert_problem(_bearer(raw).get(f"/api/v1/jobs/{job.id}"), 401, "authentication-failed")


def test_an_inactive_user_is_401(alice, alice_client) -> None:
    job = make_job(alice)
    alice.is_active = False
    alice.save()
    assert_problem(alice_client.get(f"/api/v1/jobs/{job.id}"), 401, "authentication-failed")


def test_a_session_reads_the_job_on_its_own(alice) -> None:
    job = make_job(alice)
    client = APIClient()
    login = client.post("/api/v1/accounts/login", {"email": alice.email, "password": PASSWORD}, format="json")
    assert login.status_code == 200
    response = client.get(f"/api/v1/jobs/{job.id}")
    assert response.status_code == 200
    assert response.json()["id"] == str(job.id)


def test_waiting_on_a_job_read_along_still_waits_for_its_end(alice, alice_client) -> None:
    """The first read comes with the token; a terminal job answers at once."""
    job = make_job(alice, status=Job.Status.CANCELED, completed_at=timezone.now())
    response = alice_client.get(f"/api/v1/jobs/{job.id}?wait=5")
    assert response.status_code == 200
    assert response.json()["status"] == "canceled"


def test_waiting_on_another_accounts_job_is_404_at_once(alice, bob_client) -> None:
    """The read made with the token is checked for its owner before any wait."""
    job = make_job(alice)
    started = time.monotonic()
    assert_problem(bob_client.get(f"/api/v1/jobs/{job.id}?wait=5"), 404, "not-found")
    assert time.monotonic() - started < 4
