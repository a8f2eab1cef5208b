from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.test import TestCase
from rest_framework.test import APIClient

from accounts.models import InviteCode
from tests.problems import PROBLEM, assert_problem
from workers.celery import app

__all__ = ["PROBLEM", "assert_problem"]


class CommittingClient(APIClient):
    """Runs the on-commit callbacks of each request as it ends, as a real
    commit would; the test's transaction never commits. The account emails
    are published that way."""

    def request(self, *args: Any, **kwargs: Any) -> Any:
        with TestCase.captureOnCommitCallbacks(execute=True):
            return super().request(*args, **kwargs)


@pytest.fixture
def client() -> APIClient:
    return CommittingClient()


@pytest.fixture(autouse=True)
def _tasks_run_in_process(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tasks published by the code under test (the account emails) run at
    once, in this process, so mail.outbox has them. The end-to-end tests
    (marked e2e) use a real worker instead."""
    if request.node.get_closest_marker("e2e"):
        yield
        return
    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = saved


def link_from_last_email(to: str) -> str:
    """The path and query of the link in the last email sent to `to`."""
    message = [m for m in mail.outbox if to in m.to][-1]
    url = re.search(r"https?://\S+", str(message.body))
    assert url, message.body
    parts = urlsplit(url.group(0))
    return f"{parts.path}?{parts.query}"


@pytest.fixture
def invite(db: None) -> InviteCode:
    return InviteCode.objects.create(code="WELCOME123")


@pytest.fixture
def alice_session(alice: Any) -> APIClient:
    api = APIClient()
    api.force_login(alice)
    return api


@pytest.fixture
def bob_session(bob: Any) -> APIClient:
    api = APIClient()
    api.force_login(bob)
    return api
