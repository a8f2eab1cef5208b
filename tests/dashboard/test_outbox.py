"""The development outbox: a worker writes the emails as files, the web
process lists them, and only in DEBUG."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.core.mail import send_mail
from rest_framework.test import APIClient

from dashboard.outbox import BACKEND, outbox_list
from tests.worker_process import running_worker


@pytest.fixture
def outbox(settings, tmp_path: Path) -> Path:
    settings.EMAIL_BACKEND = BACKEND
    settings.EMAIL_OUTBOX_DIR = tmp_path
    settings.DEBUG = True
    return tmp_path


def test_the_backend_writes_one_file_per_message_and_the_page_lists_them(outbox, web, db) -> None:
    send_mail(
        "First", "Hello http://localhost:8000/dashboard/verify-email?token=abc", None, ["a@example.com"]
    )
    send_mail("Second", "Again", None, ["b@example.com"])

    assert len(list(outbox.glob("*.eml"))) == 2
    page = web.get("/dashboard/outbox").content.decode()
    assert page.index("Second") < page.index("First")  # newest first
    [first] = [m for m in outbox_list() if m.subject == "First"]
    message = web.get(f"/dashboard/outbox/{first.id}").content.decode()
    assert '<a href="http://localhost:8000/dashboard/verify-email?token=abc"' in message


def test_the_outbox_is_404_without_debug_or_with_another_backend(outbox, web, settings, db) -> None:
    send_mail("Secret link", "x", None, ["a@example.com"])
    [message] = outbox_list()
    settings.DEBUG = False
    assert web.get("/dashboard/outbox").status_code == 404
    assert web.get(f"/dashboard/outbox/{message.id}").status_code == 404
    settings.DEBUG = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert web.get("/dashboard/outbox").status_code == 404


def test_a_message_id_cannot_leave_the_outbox_directory(outbox, web, db) -> None:
    (outbox.parent / "secret.eml").write_text("Subject: no\n\nno")
    assert web.get("/dashboard/outbox/..%2Fsecret").status_code == 404
    assert web.get("/dashboard/outbox/nothing-here").status_code == 404


@pytest.mark.e2e
def test_a_real_worker_puts_the_verification_email_in_the_outbox(transactional_db, outbox) -> None:
    from accounts.models import InviteCode

    InviteCode.objects.create(code="WELCOME123")
    env = {"EMAIL_BACKEND": BACKEND, "EMAIL_OUTBOX_DIR": str(outbox)}
    with running_worker(queues="maintenance", concurrency=1, extra_env=env):
        response = APIClient().post(
            "/api/v1/accounts/register",
            {
                "email": "carol@example.com",
                "password": "correct-horse-battery-staple-42",
                "invite_code": "WELCOME123",
            },
            format="json",
        )
        assert response.status_code == 201
        deadline = time.monotonic() + 30
        while not outbox_list() and time.monotonic() < deadline:
            time.sleep(0.1)

    [message] = outbox_list()
    assert message.to == "carol@example.com"
    assert "/dashboard/verify-email?token=" in message.body
