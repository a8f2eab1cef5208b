"""solve_local_task, run in this process: the local answer is stored and
billed at the local fee; what it cannot answer fails (SOLVER=local) or goes
to the model's queue (SOLVER=auto)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.core.files.base import ContentFile

from api.models import Job
from api.services import LOCAL_TASK_NAME, SOLVE_TASK_NAME, job_cancel, job_publish
from bench.printed_problems import font_paths, render
from billing.models import UsageRecord
from tests.api.helpers import make_job
from workers.celery import app
from workers.tasks.local import solve_local_task

FONT = next((f for f in font_paths() if f.name == "DejaVuSans.ttf"), None)


@pytest.fixture
def sent(sent_tasks: list[dict]) -> list[dict]:
    return sent_tasks


def _job_showing(user, text: str) -> Job:
    job = make_job(user)
    image, _ = render(text, font=FONT, size=34)
    job.image.save("input.png", ContentFile(image), save=False)
    job.image_bytes = len(image)
    job.save()
    return job


def _run(job: Job) -> Job:
    solve_local_task.apply(args=(str(job.id),))
    job.refresh_from_db()
    return job


def test_a_local_answer_is_stored_and_billed_at_the_local_fee(alice, settings) -> None:
    settings.SOLVER = "local"
    settings.LOCAL_COST_PER_REQUEST_CENTS = 2
    job = _run(_job_showing(alice, "2x + 3 = 11"))
    assert job.status == Job.Status.SUCCEEDED
    assert job.model == "local"
    assert job.result is not None and job.result["final_answer"] == "x = 4"
    usage = UsageRecord.objects.get(job=job)
    assert (usage.model, usage.input_tokens, usage.cached_tokens, usage.output_tokens) == ("local", 0, 0, 0)
    assert usage.request_fee_micros == usage.cost_micros == 20_000


def test_an_unsupported_problem_fails_the_job_unbilled(alice, settings, sent) -> None:
    settings.SOLVER = "local"
    job = _run(_job_showing(alice, "What is the capital of France?"))
    assert job.status == Job.Status.FAILED
    assert job.error_code == "unsupported_problem"
    assert "read:" in job.error_message
    assert not UsageRecord.objects.filter(job=job).exists()
    assert sent == []


def test_an_image_without_text_fails_as_unreadable(alice, settings) -> None:
    settings.SOLVER = "local"
    job = _run(make_job(alice))  # a blank 64x48 PNG
    assert (job.status, job.error_code) == (Job.Status.FAILED, "unreadable_image")


def test_under_auto_what_local_cannot_answer_goes_to_the_model_queue(
    alice, settings, sent, django_capture_on_commit_callbacks
) -> None:
    settings.SOLVER = "auto"
    settings.OPENAI_API_KEY = "sk-test"
    job = _job_showing(alice, "What is the capital of France?")
    with django_capture_on_commit_callbacks(execute=True):
        job = _run(job)
    assert job.status == Job.Status.QUEUED
    assert job.attempts == 0, "the local attempt is not a call to the model"
    assert job.worker_task_id == ""
    assert [m["name"] for m in sent] == [SOLVE_TASK_NAME]
    assert sent[0]["args"] == [str(job.id)]
    assert not UsageRecord.objects.filter(job=job).exists()


def test_under_auto_a_local_answer_never_reaches_the_model(
    alice, settings, sent, django_capture_on_commit_callbacks
) -> None:
    settings.SOLVER = "auto"
    settings.OPENAI_API_KEY = "sk-test"
    job = _job_showing(alice, "2x + 3 = 11")
    with django_capture_on_commit_callbacks(execute=True):
        job = _run(job)
    assert (job.status, job.model) == (Job.Status.SUCCEEDED, "local")
    assert sent == []


def test_a_canceled_job_is_not_run(alice, settings) -> None:
    settings.SOLVER = "local"
    job = _job_showing(alice, "2x + 3 = 11")
    job_cancel(job=job)
    assert _run(job).status == Job.Status.CANCELED
    assert not UsageRecord.objects.filter(job=job).exists()


@pytest.mark.parametrize(
    ("solver", "task_name", "queue"),
    [
        ("local", LOCAL_TASK_NAME, "local"),
        ("auto", LOCAL_TASK_NAME, "local"),
        ("mock", SOLVE_TASK_NAME, "solve"),
    ],
)
def test_jobs_are_published_to_the_queue_of_the_solver(
    alice, settings, sent, django_capture_on_commit_callbacks, solver, task_name, queue
) -> None:
    settings.SOLVER = solver
    job = make_job(alice)
    with django_capture_on_commit_callbacks(execute=True):
        job_publish(job_id=job.id)
    assert [m["name"] for m in sent] == [task_name]
    assert app.amqp.router.route({}, task_name)["queue"].name == queue


def test_a_bug_in_the_solver_fails_the_job_as_internal_error_unbilled(alice, settings, monkeypatch) -> None:
    settings.SOLVER = "local"

    def broken(self, request):
        raise KeyError("a bug")

    monkeypatch.setattr("workers.providers.local.LocalProvider.solve", broken)
    job = _run(_job_showing(alice, "2x + 3 = 11"))
    assert (job.status, job.error_code) == (Job.Status.FAILED, "internal_error")
    assert "a bug" not in job.error_message
    assert not UsageRecord.objects.filter(job=job).exists()


def test_registering_the_tasks_does_not_load_the_local_solver() -> None:
    """Every worker registers every task; only the local queue's processes
    should pay for OCR and SymPy (~33 MB an interpreter)."""
    code = "import django; django.setup(); import sys, workers.tasks; print('sympy' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=os.environ,  # the suite's settings module and services
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == "False"
