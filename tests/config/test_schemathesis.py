"""The API against its own OpenAPI schema: schemathesis (CLI, every check,
every phase including the stateful one) over a live server of the app, once
as an API token holder and once as a session user. Any 5xx or any answer
the schema does not describe fails the test.

Slow (a few minutes), so it is marked `schemathesis` and left out of the
default run; `.ci/run` runs it: `pytest -m schemathesis`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from tests.factories import PASSWORD, make_token, make_user
from tests.worker_process import WorkerProcess, running_worker

pytestmark = [pytest.mark.schemathesis, pytest.mark.timeout(900)]

CONFIG = Path(__file__).with_name("schemathesis.toml")
SEED = "20261130"
# Per operation and phase; with 30 operations this keeps each run near two
# minutes on two cores.
MAX_EXAMPLES = os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25")


@pytest.fixture
def raised_rate_limits(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    """Far above what the run sends, so that solve, login and register run
    their logic instead of answering 429 (their throttles are tested on
    their own)."""
    # DRF's SimpleRateThrottle froze the rates dict at import; TokenRateThrottle
    # reads the settings' one. Usually the same dict, but not necessarily.
    tables = {id(t): t for t in (api_settings.DEFAULT_THROTTLE_RATES, SimpleRateThrottle.THROTTLE_RATES)}
    for rates in tables.values():
        for scope in list(rates):
            monkeypatch.setitem(rates, scope, "100000/min")
    settings.JOB_MAX_IN_FLIGHT = 100_000


@pytest.fixture
def worker(transactional_db: None) -> Iterator[WorkerProcess]:
    """Jobs end at once (mock provider, no latency), so ?wait=N on a job the
    stateful phase created answers promptly."""
    with running_worker(extra_env={"MOCK_PROVIDER_LATENCY_MS": "0"}) as process:
        yield process


def _schemathesis(live_server: Any, *headers: str) -> subprocess.CompletedProcess[str]:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(CONFIG),
        "run",
        f"{live_server.url}/api/schema/",
        "--checks",
        "all",
        "--seed",
        SEED,
        "--max-examples",
        MAX_EXAMPLES,
        "--workers",
        "2",
        "--request-timeout",
        "70",
    ]
    for header in headers:
        command += ["--header", header]
    return subprocess.run(command, capture_output=True, text=True, timeout=840, check=False)


def _assert_clean(result: subprocess.CompletedProcess[str]) -> None:
    output = result.stdout + result.stderr
    print(output[-3000:])  # the summary, shown with `pytest -s`
    assert result.returncode == 0, output[-20000:]


def test_the_api_conforms_to_its_schema_for_a_token_and_a_session(
    live_server: Any, worker: WorkerProcess, raised_rate_limits: None
) -> None:
    alice = make_user("alice@example.com")
    _, token = make_token(alice)

    _assert_clean(_schemathesis(live_server, f"Authorization: Bearer {token}"))

    # A session as a browser gets one: log in, then send the CSRF token.
    session = requests.Session()
    login = session.post(
        f"{live_server.url}/api/v1/accounts/login",
        json={"email": "alice@example.com", "password": PASSWORD},
        timeout=10,
    )
    assert login.status_code == 200, login.text
    cookies = "; ".join(f"{name}={value}" for name, value in session.cookies.items())
    _assert_clean(
        _schemathesis(
            live_server,
            f"Cookie: {cookies}",
            f"X-CSRFToken: {session.cookies['csrftoken']}",
        )
    )
