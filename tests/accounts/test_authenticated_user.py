from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from accounts.authentication import authenticated_user


def _request(user) -> Request:
    request = Request(APIRequestFactory().get("/api/v1/jobs"))
    request.user = user
    return request


def test_it_returns_the_callers_user(alice) -> None:
    assert authenticated_user(_request(alice)) == alice


def test_it_refuses_an_anonymous_caller() -> None:
    with pytest.raises(NotAuthenticated):
        authenticated_user(_request(AnonymousUser()))
