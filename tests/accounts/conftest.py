from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core import mail
from rest_framework.test import APIClient

from accounts.models import InviteCode
from tests.problems import PROBLEM, assert_problem

__all__ = ["PROBLEM", "assert_problem"]


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
