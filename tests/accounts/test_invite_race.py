"""An invite code is used at most once, even by concurrent registrations.

Each thread has its own database connection (Django connections are per
thread), so the registrations really run side by side against the server.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import InviteCode, User
from tests.factories import PASSWORD

RACERS = 6


def _race(code: str) -> list[tuple[int, str]]:
    barrier = threading.Barrier(RACERS)
    answers: list[tuple[int, str]] = []
    lock = threading.Lock()

    def register(i: int) -> None:
        try:
            barrier.wait()
            response = APIClient().post(
                "/api/v1/accounts/register",
                {"email": f"racer{i}@example.com", "password": PASSWORD, "invite_code": code},
                format="json",
            )
            with lock:
                answers.append((response.status_code, response.json().get("type", "")))
        finally:
            connection.close()

    threads = [threading.Thread(target=register, args=(i,)) for i in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def _assert_exactly_one_won(answers: list[tuple[int, str]]) -> None:
    # Racers that passed the up-front check before the winner committed are
    # stopped by the conditional claim, later ones by the check itself.
    assert sorted(status for status, _ in answers) == [201] + [400] * (RACERS - 1)
    assert all(kind.endswith("/invite-code-used") for status, kind in answers if status == 400)
    invite = InviteCode.objects.get(code="RACE1")
    assert User.objects.filter(email__startswith="racer").count() == 1
    assert invite.used_by == User.objects.get(email__startswith="racer")


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="races real connections on PostgreSQL; run with DATABASE_URL=postgres://... "
    "(the SQLite variant is test_concurrent_registrations_on_sqlite_use_the_code_once)",
)
def test_concurrent_registrations_on_postgresql_use_the_code_once(transactional_db):
    InviteCode.objects.create(code="RACE1")

    _assert_exactly_one_won(_race("RACE1"))


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite variant of the race")
def test_concurrent_registrations_on_sqlite_use_the_code_once(transactional_db):
    # The test database is a file, so each thread's connection is a real
    # writer; IMMEDIATE transactions serialise them on the write lock.
    InviteCode.objects.create(code="RACE1")

    _assert_exactly_one_won(_race("RACE1"))
