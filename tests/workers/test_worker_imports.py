"""What a worker process loads: the tasks, not the web's URLs, DRF's
serializers, the OpenAPI machinery or the rest of Celery's command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import tests.fakes.openai_server as fake_api
from api.webhooks.models import WebhookDelivery
from api.webhooks.services import webhook_settings_update
from tests.api.helpers import b64, image_bytes
from tests.fakes.openai_server import worker_env
from tests.worker_process import running_worker

openai_server = fake_api.openai_server  # the fixture, used by name

# drf-spectacular's plumbing imports Django's test client (about 4 MB an
# interpreter); DRF's serializers and what they import, about 16 MB.
WEB_ONLY = (
    "config.urls",
    "rest_framework.serializers",
    "rest_framework.response",
    "accounts.schema",
    "drf_spectacular.plumbing",
    "django.test",
)
# What the `celery` command imports for its other subcommands and plugins.
COMMAND_LINE = ("celery.bin.celery", "flower", "tornado", "prompt_toolkit", "click_repl")

# Loaded into the worker through PYTHONPATH: what it had imported, as it exits.
MODULES_AT_EXIT = """
import atexit, os, sys
atexit.register(lambda: open(os.environ["MODULES_OUT"], "w").write("\\n".join(sys.modules)))
"""


@pytest.mark.e2e
def test_a_worker_that_solved_a_job_holds_neither_the_web_nor_celerys_command_line(
    transactional_db, openai_server, alice, alice_client, tmp_path: Path
) -> None:
    # The worker renders the job for its webhook's payloads, URLs included.
    webhook_settings_update(
        user=alice, default_url="http://127.0.0.1:9/hook", default_events=["completed", "started"]
    )
    (tmp_path / "sitecustomize.py").write_text(MODULES_AT_EXIT)
    out = tmp_path / "modules.txt"
    pythonpath = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    env = worker_env(openai_server, PYTHONPATH=pythonpath, MODULES_OUT=str(out))
    with running_worker(extra_env=env, queues="solve"):
        job_id = alice_client.post("/api/v1/solve", {"image": b64(image_bytes())}, format="json").json()["id"]
        done = alice_client.get(f"/api/v1/jobs/{job_id}?wait=30").json()
        assert done["status"] == "succeeded", done
    assert WebhookDelivery.objects.filter(job_id=job_id).count() == 2  # job.started, job.succeeded
    loaded = set(out.read_text().split())
    assert "workers.tasks.solve" in loaded  # what the worker did load
    assert sorted(name for name in (*WEB_ONLY, *COMMAND_LINE) if name in loaded) == []


def _run(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", "import django, sys; django.setup(); " + code],
        env=os.environ,  # the suite's settings module and services
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout.strip()


def test_the_urls_register_the_bearer_scheme_for_the_schema() -> None:
    registered = _run(
        "import config.urls; "
        "from drf_spectacular.extensions import OpenApiAuthenticationExtension as E; "
        "target = 'accounts.authentication.BearerTokenAuthentication'; "
        "print([e.name for e in E._registry if e.target_class == target])"
    )
    assert registered == "['bearerAuth']"
