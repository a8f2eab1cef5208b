"""`make screenshots`: the main pages, with a little data, into
docs/screenshots/ (SCREENSHOTS_DIR). Not part of the suite (the file name
does not match test_*.py); run by path."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.mail import send_mail
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.models import InviteCode
from api.models import Job
from api.webhooks.models import WebhookDelivery
from api.webhooks.services import webhook_settings_update
from bench.printed_problems import font_paths, render
from billing.models import BillingPeriod
from tests.billing.factories import make_period, make_usage
from tests.browser.test_dashboard import _log_in
from tests.factories import make_user
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.worker_process import WorkerProcess, running_worker

OUT = Path(os.environ.get("SCREENSHOTS_DIR", Path(__file__).resolve().parents[2] / "docs" / "screenshots"))

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def _shot(page: Page, name: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    page.wait_for_load_state("load")
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)


def _problem_image(path: Path) -> Path:
    font = next((f for f in font_paths() if f.name == "DejaVuSans.ttf"), None)
    image, _ = render("3x + 5 = 20", font=font, size=34)
    path.write_bytes(image)
    return path


@pytest.fixture
def local_solving_worker(solving_worker) -> Iterator[WorkerProcess]:
    """The pictures show what `make run` does without a key: the local
    solver answers the printed equation (a prefork worker on its queue)."""
    env = {"SOLVER": "local"}
    with running_worker(queues="local", pool="prefork", concurrency=1, extra_env=env) as worker:
        yield worker


def test_screenshots(watched_page, second_page, local_solving_worker, settings, tmp_path: Path) -> None:
    settings.SOLVER = "local"
    with WebhookReceiver() as receiver:
        _take_screenshots(watched_page, second_page, receiver, tmp_path)


def _take_screenshots(watched_page, second_page, receiver: WebhookReceiver, tmp_path: Path) -> None:
    alice = make_user("alice@example.com")
    now = timezone.now()
    start = now.replace(day=1, hour=9, minute=0, second=0, microsecond=0)
    for day in range(now.day - 1):
        for i in range((day * 7) % 5 + 1):
            record = make_usage(
                alice, completed_at=start + timedelta(days=day, minutes=i), output_tokens=300 + 90 * i
            )
            Job.objects.filter(pk=record.job_id).update(created_at=record.created_at, prompt="Solve for x")
    make_period(alice, month="2025-01", status=BillingPeriod.Status.PAID, amount_micros=1_250_000)
    webhook_settings_update(user=alice, default_url=receiver.url, default_events=["completed"])
    InviteCode.objects.create(code="WELCOME123")
    send_mail(
        "Confirm your email address",
        "Welcome to ImageSolve.\n\nConfirm your email address by opening this link within 24 hours:\n\n"
        "http://localhost:8000/dashboard/verify-email?token=example\n",
        None,
        ["carol@example.com"],
    )

    page = watched_page.page
    page.goto("/dashboard/login")
    _shot(page, "login")
    page.goto("/dashboard/signup?code=WELCOME123")
    _shot(page, "signup")
    page.goto("/dashboard/outbox")
    _shot(page, "outbox")

    _log_in(page, "alice@example.com")
    page.goto("/dashboard/try")
    page.get_by_label("Image").set_input_files(str(_problem_image(tmp_path / "problem.png")))
    page.get_by_label("Prompt").fill("Solve for x and show the steps")
    _shot(page, "try")
    page.get_by_role("button", name="Solve").click()
    expect(page.locator("#final-answer")).to_be_visible(timeout=30_000)
    expect(page.locator("#answer-text .katex").first).to_be_visible()
    receiver.wait_for(1)
    for _ in range(50):  # the attempt's outcome is recorded just after the receiver answered
        if WebhookDelivery.objects.filter(status=WebhookDelivery.Status.SUCCEEDED).exists():
            break
        page.wait_for_timeout(100)
    page.reload()
    _shot(page, "job")
    page.goto("/dashboard/")
    _shot(page, "home")
    page.goto("/dashboard/jobs")
    _shot(page, "jobs")
    page.goto("/dashboard/keys")
    page.get_by_label("Name").fill("production")
    page.get_by_role("button", name="Create key").click()
    _shot(page, "keys")
    page.goto("/dashboard/billing")
    _shot(page, "billing")
    page.goto("/dashboard/webhooks")
    page.get_by_text("Reveal the signing secret").click()
    _shot(page, "webhooks")
    watched_page.assert_clean()

    bob = make_user("bob@example.com")
    make_period(bob, month="2025-01", status=BillingPeriod.Status.OVERDUE, amount_micros=4_200_000)
    phone = second_page.page
    _log_in(phone, "bob@example.com")
    _shot(phone, "phone-overdue")
