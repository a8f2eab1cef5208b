from __future__ import annotations

import pytest

from tests.accounts.conftest import assert_problem

pytestmark = pytest.mark.django_db
URL = "/api/v1/accounts/logout"


def test_it_ends_the_session(alice_session):
    assert alice_session.post(URL).status_code == 204

    assert_problem(alice_session.get("/api/v1/accounts/me"), 401, "not-authenticated")


def test_it_needs_a_login(client):
    assert_problem(client.post(URL), 401, "not-authenticated")


def test_it_answers_405_to_get(alice_session):
    assert_problem(alice_session.get(URL), 405, "method-not-allowed")
