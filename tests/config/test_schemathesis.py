"""The API against its own OpenAPI schema: schemathesis (CLI, every check,
every phase including the stateful one) over the app served by gunicorn as
in production (bin/web), once as an API token holder and once as a session
user. Any 5xx or any answer
the schema does not describe fails the test.

Slow (a few minutes), so it is marked `schemathesis` and left out of the
default run; `.ci/run` runs it: `pytest -m schemathesis`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest
import requests
from django.db import connection

from tests.factories import PASSWORD, make_token, make_user
from tests.worker_process import ROOT, WorkerProcess, running_worker

pytestmark = [pytest.mark.schemathesis, pytest.mark.timeout(900)]

CONFIG = Path(__file__).with_name("schemathesis.toml")
SEED = "20261130"
# Per operation and phase: each of the two runs takes about 75 s on two busy
# cores (~1,400 requests), the whole test about 3 minutes.
MAX_EXAMPLES = os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "15")


# Far above what a run sends, so that solve, login and register run their
# logic instead of answering 429 (their throttles are tested on their own).
RAISED_LIMITS = {
    name: "100000/min"
    for name in (
        "THROTTLE_LOGIN_IP",
        "THROTTLE_LOGIN_ACCOUNT",
        "THROTTLE_REGISTER",
        "THROTTLE_EMAIL_IP",
        "THROTTLE_EMAIL_ADDRESS",
        "THROTTLE_SUBMIT_RATE",
        "THROTTLE_READ_RATE",
        "THROTTLE_CANCEL_RATE",
        "THROTTLE_ACCOUNT_RATE",
        "THROTTLE_REDELIVER_RATE",
    )
} | {"JOB_MAX_IN_FLIGHT": "100000"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def web(transactional_db: None) -> Iterator[str]:
    """The app as production runs it (bin/web: gunicorn, gevent workers),
    joined to the test database, with the rate limits raised."""
    port = _free_port()
    env = os.environ | RAISED_LIMITS
    env |= {"DATABASE_NAME_OVERRIDE": str(connection.settings_dict["NAME"])}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env |= {"PORT": str(port), "BIND": "127.0.0.1", "WEB_CONCURRENCY": "2"}
    log_path = Path(os.environ["IMAGESOLVE_TEST_WORKDIR"]) / "schemathesis-web.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["bash", str(ROOT / "bin" / "web")], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log_path.read_text()
            with suppress(requests.RequestException):  # not listening, or still starting
                if requests.get(f"{url}/healthz", timeout=5).status_code == 200:
                    break
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        # The run must leave no trace of a crash in the server's log.
        logged = log_path.read_text(errors="replace")
        assert "Traceback" not in logged, logged[-5000:]


@pytest.fixture
def worker(transactional_db: None) -> Iterator[WorkerProcess]:
    """Jobs end at once (mock provider, no latency), so ?wait=N on a job the
    stateful phase created answers promptly."""
    with running_worker(extra_env={"MOCK_PROVIDER_LATENCY_MS": "0"}) as process:
        yield process


def _schemathesis(url: str, *options: str) -> subprocess.CompletedProcess[str]:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(CONFIG),
        "run",
        f"{url}/api/schema/",
        "--checks",
        "all",
        "--seed",
        SEED,
        "--max-examples",
        MAX_EXAMPLES,
        # One: hypothesis describes its strategies with ast.parse, which
        # Python 3.11 does not make safe to run in two threads at once.
        "--workers",
        "1",
        "--request-timeout",
        "70",
        *options,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=840, check=False)


def _assert_clean(result: subprocess.CompletedProcess[str]) -> None:
    output = result.stdout + result.stderr
    print(output[-3000:])  # the summary, shown with `pytest -s`
    assert result.returncode == 0, output[-20000:]


def test_the_api_conforms_to_its_schema_for_a_token_and_a_session(web: str, worker: WorkerProcess) -> None:
    alice = make_user("alice@example.com")
    _, token = make_token(alice)

    _assert_clean(_schemathesis(web, "--header", f"Authorization: Bearer {token}"))

    # A session as a browser gets one: log in, then send the CSRF token.
    session = requests.Session()
    login = session.post(
        f"{web}/api/v1/accounts/login",
        json={"email": "alice@example.com", "password": PASSWORD},
        timeout=10,
    )
    assert login.status_code == 200, login.text
    cookies = "; ".join(f"{name}={value}" for name, value in session.cookies.items())
    _assert_clean(
        _schemathesis(
            web,
            "--header",
            f"Cookie: {cookies}",
            "--header",
            f"X-CSRFToken: {session.cookies['csrftoken']}",
            # Logging out would end the session the rest of the run uses.
            "--exclude-operation-id",
            "accounts_logout",
            # ignored_auth takes the credentials away and expects a 401, but
            # the session cookie travels as a plain header (with the CSRF
            # cookie), which it cannot take away. The token run checks it.
            "--exclude-checks",
            "ignored_auth",
        )
    )
