"""Account emails are sent by a worker, published after the commit: the
request never waits for the mail server, so the endpoints that must not tell
which addresses have accounts answer alike and about as fast either way."""

from __future__ import annotations

import smtplib
import time
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from rest_framework.test import APIClient

from tests.factories import PASSWORD, make_user
from tests.worker_process import running_worker
from workers.tasks.emails import MAX_RETRIES, send_email_task

REGISTER = "/api/v1/accounts/register"
RESEND = "/api/v1/accounts/resend-verification"
RESET = "/api/v1/accounts/password/reset"


def _post(api: APIClient, url: str, email: str) -> Any:
    data: dict[str, str] = {"email": email}
    if url == REGISTER:
        data.update(password=PASSWORD, invite_code="WELCOME123")
    return api.post(url, data, format="json")


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The email tasks published, instead of running them."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(send_email_task, "apply_async", lambda **options: calls.append(options))
    return calls


@pytest.mark.parametrize(
    ("url", "email"),
    [(REGISTER, "carol@example.com"), (RESEND, "dave@example.com"), (RESET, "alice@example.com")],
)
def test_the_email_is_queued_after_the_commit_not_sent_in_the_request(
    url, email, invite, alice, django_capture_on_commit_callbacks
):
    make_user("dave@example.com", verified=False)

    with django_capture_on_commit_callbacks() as callbacks:
        response = _post(APIClient(), url, email)
        assert mail.outbox == []

    assert response.status_code in (201, 202)
    assert len(callbacks) == 1
    callbacks[0]()  # the commit; the task runs in this process (eager)
    assert [m.to for m in mail.outbox] == [[email]]


@pytest.mark.parametrize("url", [RESEND, RESET])
def test_known_and_unknown_addresses_get_the_same_answer_and_no_smtp(url, client, db, published):
    make_user("carol@example.com", verified=False)

    known = client.post(url, {"email": "carol@example.com"}, format="json")
    unknown = client.post(url, {"email": "nobody@example.com"}, format="json")

    assert known.status_code == unknown.status_code == 202
    assert known.content == unknown.content
    assert mail.outbox == []
    assert [call["kwargs"]["to"] for call in published] == ["carol@example.com"]
    assert set(published[0]["kwargs"]) == {"to", "subject", "body"}
    assert all(isinstance(value, str) for value in published[0]["kwargs"].values())
    # Task events and logs show the subject, never the link.
    assert published[0]["kwargsrepr"] == repr({"subject": published[0]["kwargs"]["subject"]})


def test_a_broker_that_is_down_does_not_fail_the_request(client, invite, monkeypatch, caplog):
    def down(**_: Any) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr(send_email_task, "apply_async", down)

    response = _post(client, REGISTER, "carol@example.com")

    assert response.status_code == 201
    assert "could not publish workers.tasks.emails.send_email_task() (ConnectionError" in caplog.text
    assert "verify-email" not in caplog.text  # nor the link with its token


def test_the_task_sends_the_email(settings):
    send_email_task.apply(kwargs={"to": "carol@example.com", "subject": "Hi", "body": "Body\n"}, throw=True)

    [message] = mail.outbox
    assert (message.to, message.subject, message.body) == (["carol@example.com"], "Hi", "Body\n")
    assert message.from_email == settings.DEFAULT_FROM_EMAIL


def test_the_task_retries_when_the_mail_server_fails(monkeypatch):
    attempts: list[int] = []

    def flaky(*args: Any, **kwargs: Any) -> int:
        attempts.append(1)
        if len(attempts) < 3:
            raise smtplib.SMTPServerDisconnected("gone")
        return 1

    monkeypatch.setattr("workers.tasks.emails.send_mail", flaky)

    result = send_email_task.apply(kwargs={"to": "carol@example.com", "subject": "Hi", "body": "Body"})

    assert result.successful()
    assert len(attempts) == 3


def test_the_task_gives_up_after_its_retries(monkeypatch):
    attempts: list[int] = []

    def down(*args: Any, **kwargs: Any) -> int:
        attempts.append(1)
        raise ConnectionRefusedError("no mail server")

    monkeypatch.setattr("workers.tasks.emails.send_mail", down)

    result = send_email_task.apply(kwargs={"to": "carol@example.com", "subject": "Hi", "body": "Body"})

    assert result.failed()
    assert isinstance(result.result, ConnectionRefusedError)
    assert len(attempts) == 1 + MAX_RETRIES


@pytest.mark.e2e
def test_a_real_worker_sends_the_reset_email(transactional_db, alice, tmp_path: Path):
    # A worker process has its own locmem outbox: it writes files here instead.
    env = {"EMAIL_BACKEND": "tests.accounts.mail_backends.DirectoryBackend", "TEST_EMAIL_DIR": str(tmp_path)}
    with running_worker(queues="maintenance", concurrency=1, extra_env=env):
        response = APIClient().post(RESET, {"email": "alice@example.com"}, format="json")
        assert response.status_code == 202

        deadline = time.monotonic() + 30
        while not _written(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.1)

    [message] = _written(tmp_path)
    assert "To: alice@example.com" in message
    assert "Subject: Reset your password" in message
    assert "/dashboard/password/reset/confirm?uid=" in message


def _written(directory: Path) -> list[str]:
    # The file backend ends each message with a line of dashes.
    texts = [path.read_text() for path in directory.iterdir()]
    return [text for text in texts if text.rstrip().endswith("-" * 79)]
