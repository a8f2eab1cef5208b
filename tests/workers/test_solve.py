"""solve_job_task, run in this process (Celery eager apply; a retry runs at
once) with the real `openai` SDK against the fake OpenAI server."""

from __future__ import annotations

import pytest

import tests.fakes.openai_server as fake_api
from api.models import Job
from api.services import job_cancel
from billing.models import UsageRecord
from tests.api.helpers import make_job
from tests.fakes.openai_server import API_KEY, Hang, Malformed, Ok, RateLimit, ServerError
from workers.providers.mock import MockProvider
from workers.providers.openai_provider import retry_after_seconds
from workers.tasks.solve import retry_delay, solve_job_task

# Fixtures of the fake server, used by name.
openai_server = fake_api.openai_server
fake_openai = fake_api.fake_openai


def _run(job: Job) -> Job:
    solve_job_task.apply(args=(str(job.id),))
    job.refresh_from_db()
    return job


def test_it_solves_a_queued_job_and_bills_it_once(alice, fake_openai) -> None:
    fake_openai.script(Ok(prompt_tokens=1000, cached_tokens=400, completion_tokens=50))
    job = _run(make_job(alice, prompt="What is 2+2?", detail="high"))
    assert job.status == Job.Status.SUCCEEDED
    assert job.result == {
        "text": "We add the numbers: $2 + 2 = 4$.\nFinal answer: 4",
        "final_answer": "4",
        "latex": ["2 + 2 = 4"],
    }
    assert job.started_at and job.completed_at and job.attempts == 1
    usage = UsageRecord.objects.get(job=job)
    assert (usage.model, usage.input_tokens, usage.cached_tokens, usage.output_tokens) == (
        "gpt-4o-mini",
        1000,
        400,
        50,
    )
    # 1 cent + 600 input at 0.15, 400 cached at 0.075, 50 output at 0.60 (µ$ per token)
    assert usage.cost_micros == 10_000 + 90 + 30 + 30
    sent = fake_openai.completions()[0]
    assert {k.lower(): v for k, v in sent.headers.items()}["authorization"] == f"Bearer {API_KEY}"
    assert sent.body["model"] == "gpt-4o-mini"
    image_part = sent.body["messages"][1]["content"][1]["image_url"]
    assert image_part["detail"] == "high" and image_part["url"].startswith("data:image/png;base64,")


def test_a_redelivered_task_never_reruns_a_finished_job(alice, fake_openai) -> None:
    job = _run(make_job(alice))
    solve_job_task.apply(args=(str(job.id),), task_id=job.worker_task_id)
    solve_job_task.apply(args=(str(job.id),))
    assert len(fake_openai.completions()) == 1
    assert UsageRecord.objects.filter(job=job).count() == 1


def test_a_job_held_by_another_live_run_is_left_alone(alice, fake_openai) -> None:
    job = make_job(alice, status=Job.Status.RUNNING, worker_task_id="someone-else")
    Job.objects.filter(pk=job.pk).update(deadline_at=job.created_at.replace(year=2100))
    assert _run(job).status == Job.Status.RUNNING
    assert fake_openai.completions() == []


def test_a_canceled_job_is_not_run(alice, fake_openai) -> None:
    job = make_job(alice)
    job_cancel(job=job)
    assert _run(job).status == Job.Status.CANCELED
    assert fake_openai.completions() == []


def test_an_answer_for_a_job_canceled_meanwhile_is_discarded_unbilled(
    alice, fake_openai, monkeypatch
) -> None:
    job = make_job(alice)
    from workers.providers import openai_provider

    real_solve = openai_provider.OpenAIProvider.solve

    def solve_then_cancel(self, request):
        answer = real_solve(self, request)
        job_cancel(job=Job.objects.get(pk=job.pk))
        return answer

    monkeypatch.setattr(openai_provider.OpenAIProvider, "solve", solve_then_cancel)
    assert _run(job).status == Job.Status.CANCELED
    assert not UsageRecord.objects.exists()


@pytest.mark.parametrize(
    ("behaviour", "code"),
    [
        (RateLimit(retry_after="0"), "provider_rate_limited"),
        (ServerError(500), "provider_unavailable"),
        (ServerError(503), "provider_unavailable"),
        (Malformed(), "provider_bad_response"),
    ],
    ids=["429", "500", "503", "malformed"],
)
def test_transient_errors_are_retried_up_to_the_cap_then_fail(
    alice, fake_openai, settings, behaviour, code
) -> None:
    settings.JOB_MAX_ATTEMPTS = 3
    fake_openai.script(behaviour, behaviour, behaviour)
    job = _run(make_job(alice))
    assert job.status == Job.Status.FAILED
    assert job.error_code == code
    assert job.attempts == 3
    assert len(fake_openai.completions()) == 3
    assert not UsageRecord.objects.exists()


def test_a_transient_error_then_an_answer_succeeds(alice, fake_openai) -> None:
    fake_openai.script(ServerError(502), RateLimit(retry_after="0"), Ok())
    job = _run(make_job(alice))
    assert job.status == Job.Status.SUCCEEDED
    assert job.attempts == 3
    assert UsageRecord.objects.filter(job=job).count() == 1


def test_a_provider_that_hangs_times_out_and_fails(alice, fake_openai, settings) -> None:
    settings.JOB_MAX_ATTEMPTS = 1
    settings.OPENAI_TIMEOUT_S = 1
    fake_openai.script(Hang())
    job = _run(make_job(alice))
    assert (job.status, job.error_code) == (Job.Status.FAILED, "timeout")


def test_a_refused_key_fails_at_once(alice, fake_openai, settings) -> None:
    settings.OPENAI_API_KEY = "sk-wrong"
    job = _run(make_job(alice))
    assert (job.status, job.error_code, job.attempts) == (Job.Status.FAILED, "provider_auth_failed", 1)


def test_a_model_the_provider_does_not_know_is_rejected(alice, fake_openai) -> None:
    job = _run(make_job(alice, model="gpt-3-vision"))
    assert (job.status, job.error_code) == (Job.Status.FAILED, "provider_rejected")


def test_an_image_the_provider_cannot_read_is_invalid_image(alice, fake_openai) -> None:
    job = make_job(alice)
    job.image.save(
        "input.png", __import__("django.core.files.base", fromlist=["ContentFile"]).ContentFile(b"junk")
    )
    job = _run(job)
    assert (job.status, job.error_code) == (Job.Status.FAILED, "invalid_image")


def test_a_job_whose_image_is_gone_fails(alice, fake_openai) -> None:
    job = make_job(alice)
    job.image.delete(save=True)
    job.image = "inputs/missing"
    job.save()
    assert _run(job).error_code == "input_missing"


def test_without_a_key_the_mock_provider_answers_deterministically(alice, settings) -> None:
    settings.OPENAI_API_KEY = ""
    settings.MOCK_PROVIDER_LATENCY_MS = 0
    first, second = _run(make_job(alice, prompt="same")), _run(make_job(alice, prompt="same"))
    assert first.status == second.status == Job.Status.SUCCEEDED
    assert first.result is not None and first.result == second.result
    assert first.result["final_answer"]
    usage = UsageRecord.objects.get(job=first)
    assert usage.input_tokens > 85 and usage.output_tokens > 0


def test_the_mock_provider_counts_image_tokens_like_openai() -> None:
    from workers.providers.mock import image_tokens

    assert image_tokens(1024, 1024, "low") == 85
    assert image_tokens(1024, 1024, "high") == 85 + 170 * 4  # 768x768: 2x2 tiles
    assert image_tokens(2048, 4096, "high") == 85 + 170 * 6  # 768x1536: 2x3 tiles
    assert MockProvider(latency_ms=0).latency_ms == 0


def test_retry_delays_grow_and_honour_retry_after(settings) -> None:
    settings.JOB_RETRY_BASE_DELAY_S = 2
    settings.JOB_RETRY_MAX_DELAY_S = 120
    assert 2 <= retry_delay(attempt=1, retry_after=None) <= 4
    assert 8 <= retry_delay(attempt=3, retry_after=None) <= 10
    assert retry_delay(attempt=1, retry_after=30) == 30
    assert retry_delay(attempt=10, retry_after=None) == 120
    assert retry_delay(attempt=1, retry_after=900) == 120


def test_retry_after_is_read_in_seconds_milliseconds_and_dates() -> None:
    assert retry_after_seconds({"retry-after": "7"}) == 7
    assert retry_after_seconds({"retry-after-ms": "1500"}) == 1.5
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None
