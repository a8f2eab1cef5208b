"""The dashboard in a real browser, as a new customer uses it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from accounts.models import ApiToken, InviteCode
from api.models import Job
from billing.models import BillingPeriod, UsageRecord
from dashboard.csp import POLICY
from tests.api.helpers import image_bytes
from tests.billing.factories import make_period
from tests.factories import PASSWORD, make_user

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def _log_in(page: Page, email: str) -> None:
    page.goto("/dashboard/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Welcome back")).to_be_visible()


def _nav(page: Page, name: str) -> None:
    # Back once the new page's deferred scripts have run (they run before
    # DOMContentLoaded): a step that acts sooner races them, as a file chosen
    # before the dropzone's handler is attached never shows its preview.
    with page.expect_navigation(wait_until="domcontentloaded"):
        page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True).click()


def test_the_whole_journey_from_invite_to_a_revoked_key(
    watched_page, solving_worker, outbox_dir, tmp_path: Path
) -> None:
    InviteCode.objects.create(code="WELCOME123")
    page = watched_page.page

    # / leads to the login page, which links to sign-up.
    response = page.goto("/")
    assert response is not None and response.headers["content-security-policy"] == POLICY
    expect(page).to_have_url(re.compile(r"/dashboard/login"))
    page.get_by_role("link", name="Sign up with an invite code").click()
    page.get_by_label("Invite code").fill("welcome123")
    page.get_by_label("Email").fill("carol@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()

    # The worker sends the email into the development outbox.
    page.get_by_role("link", name="outbox", exact=True).click()
    for _ in range(60):
        if page.get_by_role("link", name="Confirm your email address").count():
            break
        page.wait_for_timeout(500)
        page.reload()
    page.get_by_role("link", name="Confirm your email address").click()
    page.locator("a[href*='/dashboard/verify-email?token=']").click()
    page.get_by_role("button", name="Confirm my email address").click()
    expect(page.locator("#verify-outcome")).to_contain_text("Your email address is confirmed")
    page.get_by_role("main").get_by_role("link", name="Log in").click()

    page.get_by_label("Email").fill("carol@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Welcome back")).to_be_visible()
    expect(page.get_by_text("No jobs yet.")).to_be_visible()

    # A key, shown once.
    _nav(page, "API keys")
    page.get_by_label("Name").fill("laptop")
    page.get_by_role("button", name="Create key").click()
    secret = page.locator("#new-key-value").input_value()
    assert secret.startswith("tok_")
    assert ApiToken.objects.get(name="laptop").prefix in secret

    # Try it: an image file, a prompt; the job page follows it live.
    image = tmp_path / "problem.png"
    image.write_bytes(image_bytes(size=(120, 80)))
    _nav(page, "Try it")
    page.get_by_label("Image").set_input_files(str(image))
    expect(page.locator("#preview")).to_be_visible()
    page.get_by_label("Prompt").fill("Solve for x")
    page.get_by_role("button", name="Solve").click()
    expect(page).to_have_url(re.compile(r"/dashboard/jobs/[0-9a-f-]{36}$"))
    expect(page.locator("#job-status")).to_have_text(re.compile("queued|running"))
    expect(page.locator("#final-answer")).to_be_visible(timeout=30_000)
    expect(page.locator("#job-status")).to_have_text("succeeded")

    # The maths is typeset by KaTeX, the final answer highlighted, the cost shown.
    job = Job.objects.get(user__email="carol@example.com")
    assert job.status == "succeeded" and job.result is not None
    expect(page.locator("#answer-text .katex").first).to_be_visible()
    expect(page.locator("#final-answer")).to_contain_text(f"Final answer: {job.result['final_answer']}")
    usage = UsageRecord.objects.get(job=job)
    expect(page.locator("#job-cost")).to_have_text(f"${usage.cost_micros / 1_000_000:.6f} USD")
    expect(page.locator("img.input-image")).to_be_visible()

    # In Jobs and in Billing.
    _nav(page, "Jobs")
    row = page.locator("table.jobs tbody tr").first
    expect(row).to_contain_text("succeeded")
    expect(row).to_contain_text("Solve for x")
    _nav(page, "Billing")
    expect(page.locator("#period-jobs")).to_have_text("1")
    expect(page.locator("#period-spend")).to_have_text(f"${usage.cost_micros / 1_000_000:.6f}")
    expect(page.locator("#usage-chart rect.bar").first).to_be_attached()
    assert page.locator("#usage-chart rect.bar[height]:not([height='0.0'])").count() >= 1

    # Revoke the key: asked first, then refused by the API.
    _nav(page, "API keys")
    page.get_by_role("link", name=re.compile("Revoke")).click()
    page.get_by_role("button", name="Revoke the key").click()
    expect(page.get_by_text("is revoked")).to_be_visible()
    api = page.request.get("/api/v1/jobs", headers={"Authorization": f"Bearer {secret}"})
    assert api.status == 401

    watched_page.assert_clean()


def test_webhook_settings_round_trip(watched_page, transactional_db) -> None:
    make_user("alice@example.com")
    page = watched_page.page
    _log_in(page, "alice@example.com")
    _nav(page, "Webhooks")

    page.get_by_label("Default URL").fill("http://169.254.169.254/latest")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#id_default_url_error")).to_be_visible()

    page.get_by_label("Default URL").fill("https://hooks.example.com/imagesolve")
    page.get_by_label("started").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Webhook settings saved.")).to_be_visible()
    page.reload()
    expect(page.get_by_label("Default URL")).to_have_value("https://hooks.example.com/imagesolve")
    expect(page.get_by_label("started")).to_be_checked()
    expect(page.get_by_label("completed")).to_be_checked()

    secret = page.locator("#secret-value")
    expect(secret).to_be_hidden()
    page.get_by_text("Reveal the signing secret").click()
    expect(secret).to_be_visible()
    old = secret.input_value()
    assert old.startswith("whsec_")

    page.get_by_role("button", name="Rotate the secret").click()
    expect(page.locator("#rotation-overlap")).to_be_visible()
    page.get_by_text("Reveal the signing secret").click()
    assert page.locator("#secret-value").input_value() not in ("", old)

    watched_page.assert_clean()


def test_an_overdue_account_sees_the_banner_and_cannot_submit(
    watched_page, transactional_db, tmp_path
) -> None:
    alice = make_user("alice@example.com")
    make_period(alice, month="2024-01", status=BillingPeriod.Status.OVERDUE, amount_micros=2_500_000)
    page = watched_page.page
    _log_in(page, "alice@example.com")

    banner = page.locator("#overdue-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("January 2024")
    image = tmp_path / "problem.png"
    image.write_bytes(image_bytes())
    _nav(page, "Try it")
    page.get_by_label("Image").set_input_files(str(image))
    page.get_by_role("button", name="Solve").click()
    expect(page.locator(".form-errors")).to_contain_text("is overdue; pay it to submit new jobs")
    _nav(page, "Billing")
    expect(page.locator("#periods")).to_contain_text("overdue")
    assert not Job.objects.exists()
    # The 402 page itself logs a failed load; nothing else may.
    assert [e for e in watched_page.console_errors if "402" not in e] == []
    assert watched_page.foreign_requests == []


def test_another_accounts_job_answers_404(watched_page, second_page, transactional_db) -> None:
    alice = make_user("alice@example.com")
    make_user("bob@example.com")
    job = Job.objects.create(user=alice, model="gpt-4o-mini")

    _log_in(watched_page.page, "alice@example.com")
    assert watched_page.page.goto(f"/dashboard/jobs/{job.pk}").status == 200

    bob = second_page.page
    _log_in(bob, "bob@example.com")
    response = bob.goto(f"/dashboard/jobs/{job.pk}")
    assert response is not None and response.status == 404
    expect(bob.get_by_role("heading", name="Page not found")).to_be_visible()
    assert bob.goto(f"/dashboard/jobs/{job.pk}/image").status == 404
    assert bob.request.get(f"/api/v1/jobs/{job.pk}").status == 404


@pytest.mark.parametrize(
    "url",
    [
        "/dashboard/",
        "/dashboard/try",
        "/dashboard/jobs",
        "/dashboard/billing",
        "/dashboard/keys",
        "/dashboard/webhooks",
    ],
)
def test_pages_fit_a_phone_screen(second_page, transactional_db, url) -> None:
    make_user("alice@example.com")
    page = second_page.page
    _log_in(page, "alice@example.com")
    page.goto(url)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{url} is {overflow}px wider than the screen"
    second_page.assert_clean()


def test_the_api_docs_and_the_dashboard_link_to_each_other(watched_page, transactional_db) -> None:
    make_user("alice@example.com")
    page = watched_page.page
    _log_in(page, "alice@example.com")

    _nav(page, "API docs")
    expect(page).to_have_url(re.compile(r"/api/docs/$"))
    # Swagger UI opens description links in a new tab: follow the address.
    link = page.get_by_role("link", name="dashboard", exact=True)
    expect(link).to_have_attribute("href", "/dashboard/")
    page.goto("/dashboard/")
    expect(page.get_by_role("heading", name="Welcome back")).to_be_visible()
    assert watched_page.foreign_requests == []
