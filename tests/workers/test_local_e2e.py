"""The local solver end to end: the API over the Django test client, a real
Celery worker (prefork, as the Procfile runs it) on the `local` queue over
the real broker; under `auto`, the fake OpenAI server for what the local
solver cannot answer."""

from __future__ import annotations

import pytest

import tests.fakes.openai_server as fake_api
from api.models import Job
from bench.printed_problems import font_paths, render
from billing.models import UsageRecord
from tests.api.helpers import b64
from tests.fakes.openai_server import worker_env
from tests.worker_process import running_worker

pytestmark = [pytest.mark.e2e]

openai_server = fake_api.openai_server  # the fixture, used by name

FONT = next((f for f in font_paths() if f.name == "DejaVuSans.ttf"), None)


def _submit(client, text: str) -> str:
    image, _ = render(text, font=FONT, size=34)
    response = client.post("/api/v1/solve", {"image": b64(image)}, format="json")
    assert response.status_code == 202, response.content
    return response.json()["id"]


def _wait_for(client, job_id: str) -> dict:
    return client.get(f"/api/v1/jobs/{job_id}?wait=30").json()


def test_a_printed_equation_is_solved_by_the_local_worker(transactional_db, alice_client, settings) -> None:
    settings.SOLVER = "local"
    env = {"SOLVER": "local"}
    with running_worker(queues="local", pool="prefork", concurrency=1, extra_env=env) as worker:
        solved = _submit(alice_client, "2x + 3 = 11")
        unsupported = _submit(alice_client, "What is the capital of France?")
        done = _wait_for(alice_client, solved)
        failed = _wait_for(alice_client, unsupported)
    assert done["status"] == "succeeded", worker.log()
    assert done["result"]["final_answer"] == "x = 4"
    assert done["model"] == "local"
    assert done["usage"]["input_tokens"] == done["usage"]["output_tokens"] == 0
    assert done["usage"]["cost"] == "0.010000"
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "unsupported_problem"
    assert not UsageRecord.objects.filter(job_id=unsupported).exists()


def test_under_auto_only_what_local_cannot_answer_reaches_the_model(
    transactional_db, alice_client, settings, openai_server
) -> None:
    settings.SOLVER = "auto"
    settings.OPENAI_API_KEY = fake_api.API_KEY
    env = worker_env(openai_server, SOLVER="auto")
    with running_worker(queues="local,solve", pool="prefork", concurrency=2, extra_env=env) as worker:
        simple = _submit(alice_client, "x² − 5x + 6 = 0")
        other = _submit(alice_client, "What is the capital of France?")
        by_local = _wait_for(alice_client, simple)
        by_model = _wait_for(alice_client, other)
    assert by_local["status"] == "succeeded", worker.log()
    assert (by_local["model"], by_local["result"]["final_answer"]) == ("local", "x = 2 or x = 3")
    assert by_model["status"] == "succeeded", worker.log()
    assert by_model["model"] == "gpt-4o-mini"
    assert by_model["usage"]["input_tokens"] > 0
    sent = openai_server.completions()
    assert len(sent) == 1, "the problem the local solver answered never reached the model"
    assert Job.objects.get(pk=other).attempts == 1
