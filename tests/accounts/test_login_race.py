"""The per-account login limit holds against concurrent guesses: each attempt
takes its slot atomically before the password is checked, so guesses fired
together from many IPs cannot all pass a check none of them has recorded."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import pytest
from django.db import connection
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from accounts.throttles import LoginAccountThrottle
from tests.factories import PASSWORD, make_user

LIMIT = 10
RACERS = 40
# Mid-window, so the race cannot straddle two windows.
NOW = 1_800_000_000.0 + 1800

T = TypeVar("T")


@pytest.fixture(autouse=True)
def _limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "accounts_login_account", f"{LIMIT}/hour")
    monkeypatch.setattr(LoginAccountThrottle, "timer", staticmethod(lambda: NOW))


def _race(attempt: Callable[[int], T]) -> list[T]:
    barrier = threading.Barrier(RACERS)
    results: list[T] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        try:
            barrier.wait()
            result = attempt(i)
            with lock:
                results.append(result)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == RACERS
    return results


def test_concurrent_wrong_passwords_from_many_ips_stop_at_the_limit(transactional_db: None) -> None:
    make_user("alice@example.com")

    def guess(i: int) -> int:
        response = APIClient(REMOTE_ADDR=f"10.1.0.{i}").post(
            "/api/v1/accounts/login",
            {"email": "alice@example.com", "password": f"guess-{i}"},
            format="json",
        )
        return response.status_code

    statuses = _race(guess)

    assert sorted(statuses) == [400] * LIMIT + [429] * (RACERS - LIMIT)
    right = APIClient(REMOTE_ADDR="10.2.0.1").post(
        "/api/v1/accounts/login",
        {"email": "alice@example.com", "password": PASSWORD},
        format="json",
    )
    assert right.status_code == 429


def test_concurrent_reservations_on_the_throttle_never_exceed_the_limit() -> None:
    def reserve(_: int) -> bool:
        return LoginAccountThrottle().reserve("alice@example.com")

    granted = _race(reserve)

    assert granted.count(True) == LIMIT
    # Refused attempts hold nothing: the count is exactly the granted slots.
    assert not LoginAccountThrottle().reserve("Alice@Example.com")


def test_released_slots_can_be_taken_again() -> None:
    held = [LoginAccountThrottle() for _ in range(LIMIT)]
    assert all(throttle.reserve("alice@example.com") for throttle in held)
    assert not LoginAccountThrottle().reserve("alice@example.com")

    for throttle in held:
        throttle.release()
        throttle.release()  # twice is harmless

    assert LoginAccountThrottle().reserve("alice@example.com")
    assert LoginAccountThrottle().reserve("bob@example.com")
