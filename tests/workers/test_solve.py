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
from workers.providers.base import SYSTEM_PROMPT
from workers.providers.mock import MockProvider
from workers.providers.openai_provider import retry_after_seconds
from workers.runs import retry_delay
from workers.tasks.solve import solve_job_task

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
    headers = {k.lower(): v for k, v in sent.headers.items()}
    assert headers["authorization"] == f"Bearer {API_KEY}"
    # The SDK's own request: its user agent and platform headers, JSON.
    assert headers["user-agent"].startswith("OpenAI/Python")
    assert headers["x-stainless-lang"] == "python"
    assert headers["content-type"] == "application/json"
    assert sent.body is not None
    image_url = sent.body["messages"][1]["content"][1]["image_url"]
    assert image_url["url"].startswith("data:image/png;base64,")
    assert sent.body == {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is 2+2?"},
                    {"type": "image_url", "image_url": {"url": image_url["url"], "detail": "high"}},
                ],
            },
        ],
    }


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


def test_a_message_redelivered_beyond_the_cap_fails_the_job_without_calling_the_model(
    alice, fake_openai, settings
) -> None:
    # Every earlier run was claimed and died (its worker killed each time):
    # this claim is attempt JOB_MAX_ATTEMPTS + 1, which is never made.
    settings.JOB_MAX_ATTEMPTS = 3
    job = _run(make_job(alice, attempts=3))
    assert (job.status, job.error_code, job.attempts) == (Job.Status.FAILED, "attempts_exhausted", 4)
    assert fake_openai.completions() == []
    assert not UsageRecord.objects.exists()


def test_the_last_allowed_attempt_still_calls_the_model(alice, fake_openai, settings) -> None:
    settings.JOB_MAX_ATTEMPTS = 3
    job = _run(make_job(alice, attempts=2))
    assert (job.status, job.attempts) == (Job.Status.SUCCEEDED, 3)
    assert len(fake_openai.completions()) == 1


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


def test_an_unexpected_error_after_the_call_fails_the_job_once_unbilled(alice, fake_openai, settings) -> None:
    # A model with no price: the answer cannot be billed. The job must not
    # stay running (recovery would call the model again and again).
    settings.MODEL_PRICES = {}
    job = _run(make_job(alice))
    assert (job.status, job.error_code) == (Job.Status.FAILED, "internal_error")
    assert job.completed_at is not None and job.attempts == 1
    assert len(fake_openai.completions()) == 1
    assert not UsageRecord.objects.exists()


def test_an_unexpected_error_before_the_call_fails_the_job(alice, fake_openai, monkeypatch, caplog) -> None:
    from workers import runs

    def broken_storage(job):
        raise RuntimeError("storage is down")

    monkeypatch.setattr(runs, "solve_request", broken_storage)
    job = make_job(alice)
    result = solve_job_task.apply(args=(str(job.id),))
    job.refresh_from_db()
    assert (job.status, job.error_code) == (Job.Status.FAILED, "internal_error")
    assert "storage is down" not in job.error_message
    assert result.failed()
    assert fake_openai.completions() == []
    record = next(r for r in caplog.records if "unexpected error" in r.getMessage())
    assert record.exc_info is not None


def test_an_unexpected_error_does_not_touch_a_job_the_run_lost(alice, fake_openai, monkeypatch) -> None:
    from workers import runs

    job = make_job(alice)

    def canceled_then_broken(job_):
        job_cancel(job=Job.objects.get(pk=job.pk))
        raise RuntimeError("boom")

    monkeypatch.setattr(runs, "solve_request", canceled_then_broken)
    job = _run(job)
    assert (job.status, job.error_code) == (Job.Status.CANCELED, "canceled")


def test_the_retry_countdown_honours_retry_after(alice, fake_openai, settings, monkeypatch) -> None:
    from celery.exceptions import Retry

    settings.JOB_RETRY_MAX_DELAY_S = 120
    fake_openai.script(RateLimit(retry_after="30"))
    countdowns = []

    def fake_retry(*, countdown, exc, **_):
        countdowns.append(countdown)
        return Retry(exc=exc, when=countdown)

    monkeypatch.setattr(solve_job_task, "retry", fake_retry)
    job = _run(make_job(alice))
    assert countdowns == [30]
    assert (job.status, job.error_code) == (Job.Status.QUEUED, "provider_rate_limited")


def test_a_retry_after_beyond_the_backoff_cap_waits_in_the_database(
    alice, fake_openai, settings, django_capture_on_commit_callbacks
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from workers.tasks.recovery import requeue_stale_jobs_task

    settings.JOB_RETRY_MAX_DELAY_S = 120
    fake_openai.script(RateLimit(retry_after="900"), Ok())
    job = _run(make_job(alice))
    # Not retried early (a countdown cut to the cap would call again at 120 s).
    assert (job.status, job.error_code, job.attempts) == (Job.Status.QUEUED, "provider_rate_limited", 1)
    assert len(fake_openai.completions()) == 1
    with django_capture_on_commit_callbacks() as published:
        assert requeue_stale_jobs_task() == 0
        Job.objects.filter(pk=job.pk).update(
            published_at=job.published_at - timedelta(seconds=901)  # type: ignore[operator]
        )
        assert requeue_stale_jobs_task() == 1
    assert len(published) == 1
    assert job.published_at is not None
    due = job.published_at + timedelta(seconds=settings.JOB_REQUEUE_AFTER_S)
    assert abs((due - timezone.now()).total_seconds() - 900) < 10


def test_a_retry_after_beyond_the_longest_wait_fails_the_job(alice, fake_openai, settings) -> None:
    settings.JOB_RETRY_AFTER_MAX_S = 600
    fake_openai.script(RateLimit(retry_after="86400"))
    job = _run(make_job(alice))
    assert (job.status, job.error_code) == (Job.Status.FAILED, "provider_rate_limited")
    assert len(fake_openai.completions()) == 1


def test_a_retry_the_broker_cannot_take_waits_in_the_database(
    alice, fake_openai, settings, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    """The broker is down when the retry is published: the job stays queued,
    due at its retry time, and the requeue task publishes it then."""
    from datetime import timedelta

    from celery.exceptions import Reject

    from workers.tasks.recovery import requeue_stale_jobs_task

    fake_openai.script(RateLimit(retry_after="5"))

    def broker_down(**_):
        raise Reject(ConnectionError("Error 111 connecting to the broker"), requeue=False)

    monkeypatch.setattr(solve_job_task, "retry", broker_down)
    job = _run(make_job(alice))
    assert (job.status, job.error_code) == (Job.Status.QUEUED, "provider_rate_limited")
    with django_capture_on_commit_callbacks() as published:
        assert requeue_stale_jobs_task() == 0  # not due yet
    assert published == []
    # Past its retry time and the grace left to a countdown message.
    Job.objects.filter(pk=job.pk).update(
        published_at=job.published_at - timedelta(seconds=40)  # type: ignore[operator]
    )
    with django_capture_on_commit_callbacks() as published:
        assert requeue_stale_jobs_task() == 1
    assert len(published) == 1


def test_a_run_takes_five_statements_and_reads_the_job_once(
    alice, settings, django_assert_max_num_queries
) -> None:
    """Claim (UPDATE ... RETURNING the job, then one SELECT of the account's
    webhook settings), success (UPDATE, the period's ID, the usage INSERT); the
    period's running totals are added after commit. Plus two savepoints per
    transaction here, inside the test's transaction."""
    settings.SOLVER = "mock"
    settings.MOCK_PROVIDER_LATENCY_MS = 0
    # The first job of the month opens the account's period (as the roll does).
    solve_job_task.apply(args=(str(make_job(alice).id),))
    job = make_job(alice)
    with django_assert_max_num_queries(5 + 4):
        solve_job_task.apply(args=(str(job.id),))
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    assert UsageRecord.objects.filter(job=job).count() == 1
