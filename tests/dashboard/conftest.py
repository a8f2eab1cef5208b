from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, TestCase

# Account emails are tasks: run them in this process, as the accounts tests do.
from tests.accounts.conftest import _tasks_run_in_process  # noqa: F401


class CommittingWebClient(Client):
    """Runs each request's on-commit callbacks as it ends, as a real commit
    would (the test's own transaction never commits): emails go out, jobs are
    published."""

    def request(self, *args: Any, **kwargs: Any) -> Any:
        with TestCase.captureOnCommitCallbacks(execute=True):
            return super().request(*args, **kwargs)


@pytest.fixture
def web() -> Client:
    """A browser without a session."""
    return CommittingWebClient()


@pytest.fixture
def alice_web(alice: Any) -> Client:
    browser = CommittingWebClient()
    browser.force_login(alice)
    return browser


@pytest.fixture
def bob_web(bob: Any) -> Client:
    browser = CommittingWebClient()
    browser.force_login(bob)
    return browser
