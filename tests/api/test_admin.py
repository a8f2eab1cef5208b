"""The jobs admin: list with filters, read-only detail, re-run of failed jobs."""

from __future__ import annotations

import pytest
from django.test import Client

from api.models import Job
from tests.api.helpers import make_job


@pytest.fixture
def admin_client(operator) -> Client:
    operator.is_superuser = True
    operator.save(update_fields=["is_superuser"])
    browser = Client()
    browser.force_login(operator)
    return browser


def test_operators_list_and_filter_jobs(alice, admin_client) -> None:
    failed = make_job(alice, status=Job.Status.FAILED, error_code="timeout")
    make_job(alice, status=Job.Status.SUCCEEDED)
    response = admin_client.get("/admin/api/job/?status__exact=failed")
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1
    assert str(failed.id) in response.content.decode()


def test_the_job_page_is_read_only_and_shows_the_result(alice, admin_client) -> None:
    job = make_job(alice, status=Job.Status.SUCCEEDED, result={"text": "Final answer: 4"})
    response = admin_client.get(f"/admin/api/job/{job.id}/change/")
    assert response.status_code == 200
    assert "Final answer: 4" in response.content.decode()
    assert admin_client.get("/admin/api/job/add/").status_code == 403


def test_rerun_queues_failed_jobs_again_and_skips_others(
    alice, admin_client, django_capture_on_commit_callbacks
) -> None:
    failed = make_job(alice, status=Job.Status.FAILED, error_code="provider_unavailable", attempts=5)
    done = make_job(alice, status=Job.Status.SUCCEEDED)
    with django_capture_on_commit_callbacks() as published:
        response = admin_client.post(
            "/admin/api/job/", {"action": "rerun_failed", "_selected_action": [str(failed.id), str(done.id)]}
        )
    assert response.status_code == 302
    assert len(published) == 1
    failed.refresh_from_db()
    assert (failed.status, failed.error_code, failed.attempts) == (Job.Status.QUEUED, "", 0)
    done.refresh_from_db()
    assert done.status == Job.Status.SUCCEEDED


def test_customers_cannot_open_the_admin(alice) -> None:
    browser = Client()
    browser.force_login(alice)
    assert browser.get("/admin/api/job/").status_code == 302


def test_operators_filter_jobs_by_user(alice, bob, admin_client) -> None:
    mine = make_job(alice)
    make_job(bob)
    response = admin_client.get(f"/admin/api/job/?user__id__exact={alice.pk}")
    assert response.status_code == 200
    assert [job.pk for job in response.context["cl"].result_list] == [mine.pk]
    assert "By user" in response.content.decode()


def test_deleting_jobs_deletes_their_input_images(
    alice, admin_client, django_capture_on_commit_callbacks
) -> None:
    from django.core.files.storage import default_storage

    jobs = [make_job(alice, status=Job.Status.FAILED) for _ in range(2)]
    names = [str(job.image.name) for job in jobs]
    assert all(default_storage.exists(name) for name in names)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/api/job/",
            {"action": "delete_selected", "_selected_action": [str(job.id) for job in jobs], "post": "yes"},
        )
    assert response.status_code == 302
    assert not Job.objects.exists()
    assert not any(default_storage.exists(name) for name in names)


def test_deleting_one_job_deletes_its_input_image(
    alice, admin_client, django_capture_on_commit_callbacks
) -> None:
    from django.core.files.storage import default_storage

    job = make_job(alice, status=Job.Status.CANCELED)
    name = str(job.image.name)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/admin/api/job/{job.id}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Job.objects.filter(pk=job.pk).exists()
    assert not default_storage.exists(name)
