"""The logged-in pages: keys, Try it, jobs, billing, webhooks; another
account's objects answer 404; every page carries the strict CSP."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import ApiToken
from api.models import Job
from api.webhooks.models import WebhookAccount, WebhookDelivery
from billing.models import BillingPeriod
from dashboard.csp import POLICY
from tests.api.helpers import image_bytes, upload
from tests.billing.factories import make_period, make_usage
from tests.factories import make_token

PAGES = [
    "/dashboard/",
    "/dashboard/try",
    "/dashboard/jobs",
    "/dashboard/keys",
    "/dashboard/billing",
    "/dashboard/webhooks",
    "/dashboard/password/change",
]


@pytest.mark.parametrize("url", PAGES)
def test_every_page_needs_a_login(web, db, url) -> None:
    response = web.get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/dashboard/login?next=")


@pytest.mark.parametrize(
    "url", [*PAGES, "/dashboard/login", "/dashboard/signup", "/dashboard/password/reset"]
)
def test_every_page_has_a_strict_csp_and_no_inline_script_or_style(alice_web, web, url) -> None:
    browser = (
        web if url in ("/dashboard/login", "/dashboard/signup", "/dashboard/password/reset") else alice_web
    )
    response = browser.get(url)
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == POLICY
    assert "script-src 'self'" in POLICY and "unsafe-inline" not in POLICY
    page = response.content.decode()
    assert "<script>" not in page and "<style" not in page and " style=" not in page
    assert "http://" not in page.replace("http://www.w3.org", "")  # nothing from elsewhere
    assert response.headers["Cache-Control"] == "no-store"


def test_the_admin_keeps_its_own_headers(web, db) -> None:
    assert "Content-Security-Policy" not in web.get("/admin/login/").headers


def test_the_api_docs_link_to_the_dashboard(web, db) -> None:
    schema = web.get("/api/schema/").content.decode()
    assert "[dashboard](/dashboard/)" in schema


# --- API keys -------------------------------------------------------------------


def test_a_new_key_is_shown_once_and_listed_by_its_prefix(alice_web, alice) -> None:
    response = alice_web.post("/dashboard/keys", {"name": "laptop"})

    token = ApiToken.objects.get(user=alice, name="laptop")
    page = response.content.decode()
    secret = page.split('id="new-key-value" class="mono" type="text" value="')[1].split('"')[0]
    assert secret.startswith("tok_") and secret.startswith(token.prefix)
    listing = alice_web.get("/dashboard/keys").content.decode()
    assert token.prefix in listing and secret not in listing
    # The secret works against the API.
    assert alice_web.get("/api/v1/jobs", headers={"Authorization": f"Bearer {secret}"}).status_code == 200


def test_revoking_asks_first_then_revokes(alice_web, alice) -> None:
    token, secret = make_token(alice)

    confirm = alice_web.get(f"/dashboard/keys/{token.pk}/revoke")
    token.refresh_from_db()
    assert confirm.status_code == 200 and token.revoked_at is None

    done = alice_web.post(f"/dashboard/keys/{token.pk}/revoke")
    token.refresh_from_db()
    assert done.status_code == 302 and token.revoked_at is not None
    after = alice_web.get("/dashboard/keys").content.decode()
    assert "is revoked" in after and "No API keys." in after
    assert alice_web.get("/api/v1/jobs", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_another_accounts_key_cannot_be_revoked(bob_web, alice) -> None:
    token, _ = make_token(alice)
    assert bob_web.get(f"/dashboard/keys/{token.pk}/revoke").status_code == 404
    assert bob_web.post(f"/dashboard/keys/{token.pk}/revoke").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_the_keys_page_has_an_empty_state(alice_web) -> None:
    assert "No API keys." in alice_web.get("/dashboard/keys").content.decode()


# --- Try it and jobs ----------------------------------------------------------------


def test_try_it_submits_through_the_job_service_and_opens_the_job(alice_web, alice) -> None:
    response = alice_web.post(
        "/dashboard/try",
        {"image": upload(image_bytes()), "prompt": "Solve it", "model": "gpt-4o-mini"},
    )

    job = Job.objects.get(user=alice)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/dashboard/jobs/{job.pk}"
    # Tasks run in this process here (conftest), so the job has run too.
    assert (job.status, job.prompt, job.model, job.image_format) == (
        "succeeded",
        "Solve it",
        "gpt-4o-mini",
        "png",
    )
    page = alice_web.get(f"/dashboard/jobs/{job.pk}").content.decode()
    assert f'data-job-url="/api/v1/jobs/{job.pk}"' in page
    image = alice_web.get(f"/dashboard/jobs/{job.pk}/image")
    assert image.headers["Content-Type"] == "image/png"
    assert b"".join(image.streaming_content) == image_bytes()


def test_try_it_shows_an_unusable_image_next_to_the_field(alice_web, alice) -> None:
    response = alice_web.post("/dashboard/try", {"image": upload(b"not an image"), "model": "gpt-4o-mini"})

    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="id_image_error"' in page
    assert "not an image of an accepted format" in page
    assert not Job.objects.exists()


def test_try_it_refuses_an_unknown_model(alice_web) -> None:
    response = alice_web.post("/dashboard/try", {"image": upload(image_bytes()), "model": "gpt-2"})
    assert 'id="id_model_error"' in response.content.decode()
    assert not Job.objects.exists()


def test_an_overdue_account_sees_the_banner_and_cannot_submit(alice_web, alice) -> None:
    make_period(alice, month="2024-01", status=BillingPeriod.Status.OVERDUE, amount_micros=5_000_000)

    home = alice_web.get("/dashboard/").content.decode()
    assert 'id="overdue-banner"' in home and "January 2024" in home
    refused = alice_web.post("/dashboard/try", {"image": upload(image_bytes()), "model": "gpt-4o-mini"})
    assert refused.status_code == 402
    assert "is overdue; pay it to submit new jobs." in refused.content.decode()
    assert not Job.objects.exists()


def test_another_accounts_job_is_404_on_every_page(bob_web, alice) -> None:
    job = Job.objects.create(user=alice, model="gpt-4o-mini")
    for url in (f"/dashboard/jobs/{job.pk}", f"/dashboard/jobs/{job.pk}/image"):
        assert bob_web.get(url).status_code == 404
    assert bob_web.post(f"/dashboard/jobs/{job.pk}/cancel").status_code == 404
    job.refresh_from_db()
    assert job.status == "queued"


def test_a_running_job_can_be_canceled_and_a_finished_one_not(alice_web, alice) -> None:
    job = Job.objects.create(user=alice, model="gpt-4o-mini", status=Job.Status.RUNNING)
    alice_web.post(f"/dashboard/jobs/{job.pk}/cancel")
    job.refresh_from_db()
    assert job.status == "canceled"

    again = alice_web.post(f"/dashboard/jobs/{job.pk}/cancel", follow=True)
    assert "already canceled and cannot be canceled" in again.content.decode()


def test_the_job_list_filters_by_status_and_pages(alice_web, alice, bob) -> None:
    now = timezone.now()
    for i in range(25):
        Job.objects.create(user=alice, model="gpt-4o-mini", created_at=now - timedelta(minutes=i))
    failed = Job.objects.create(user=alice, model="gpt-4o-mini", status=Job.Status.FAILED)
    Job.objects.create(user=bob, model="gpt-4o-mini", status=Job.Status.FAILED)

    first = alice_web.get("/dashboard/jobs").content.decode()
    assert first.count("/dashboard/jobs/") == 20 and "Page 1 of 2" in first
    second = alice_web.get("/dashboard/jobs?page=2").content.decode()
    assert second.count("/dashboard/jobs/") == 6
    only_failed = alice_web.get("/dashboard/jobs?status=failed").content.decode()
    assert only_failed.count("/dashboard/jobs/") == 1 and str(failed.pk) in only_failed
    assert "No canceled jobs." in alice_web.get("/dashboard/jobs?status=canceled").content.decode()


def test_a_succeeded_job_shows_its_answer_final_answer_and_cost(alice_web, alice) -> None:
    record = make_usage(alice, completed_at=timezone.now())
    Job.objects.filter(pk=record.job_id).update(
        result={"text": "Let $x = 2$.\nFinal answer: 3", "final_answer": "3", "latex": ["x = 2"]}
    )

    page = alice_web.get(f"/dashboard/jobs/{record.job_id}").content.decode()
    assert 'id="final-answer"' in page and 'Final answer: <span class="math">3</span>' in page
    assert "Let $x = 2$.<br>Final answer: 3" in page
    assert f"${record.cost_micros / 1_000_000:.6f} USD" in page


def test_a_delivery_can_be_sent_again_from_its_job(alice_web, alice, bob_web) -> None:
    job = Job.objects.create(user=alice, model="gpt-4o-mini", status=Job.Status.SUCCEEDED)
    delivery = WebhookDelivery.objects.create(
        webhook_id="msg_1",
        user=alice,
        job=job,
        event_type="job.succeeded",
        url="https://hooks.example.com/x",
        body="{}",
        status=WebhookDelivery.Status.FAILED,
        attempt_count=3,
    )
    assert "hooks.example.com" in alice_web.get(f"/dashboard/jobs/{job.pk}").content.decode()

    assert bob_web.post(f"/dashboard/deliveries/{delivery.pk}/redeliver").status_code == 404
    response = alice_web.post(f"/dashboard/deliveries/{delivery.pk}/redeliver")
    assert response.headers["Location"] == f"/dashboard/jobs/{job.pk}"
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.redelivered_after_attempt == 3


# --- Billing ------------------------------------------------------------------------


def test_billing_shows_the_periods_and_draws_this_months_days(alice_web, alice) -> None:
    now = timezone.now()
    make_usage(alice, completed_at=now)
    make_usage(alice, completed_at=now)
    make_period(alice, month="2024-01", status=BillingPeriod.Status.PAID, amount_micros=1_500_000)

    page = alice_web.get("/dashboard/billing").content.decode()
    assert 'id="usage-chart"' in page
    assert page.count('<rect class="bar"') >= 28  # one bar per day of the month
    assert f"{now:%b} {now.day}: $" in page and "2 jobs" in page
    assert "January 2024" in page and "status-paid" in page and "$1.500000" in page


def test_billing_without_usage_has_an_empty_state(alice_web) -> None:
    assert "No usage this month yet." in alice_web.get("/dashboard/billing").content.decode()


# --- Webhooks -----------------------------------------------------------------------


def test_webhook_settings_round_trip(alice_web, alice) -> None:
    response = alice_web.post(
        "/dashboard/webhooks",
        {"default_url": "https://hooks.example.com/in", "default_events": ["completed", "started"]},
    )
    assert response.status_code == 302
    account = WebhookAccount.objects.get(user=alice)
    assert (account.default_url, account.default_events) == (
        "https://hooks.example.com/in",
        ["completed", "started"],
    )
    page = alice_web.get("/dashboard/webhooks").content.decode()
    assert 'value="https://hooks.example.com/in"' in page
    assert account.secret in page  # behind the "reveal" disclosure


def test_a_refused_webhook_url_is_shown_next_to_the_field(alice_web, alice) -> None:
    response = alice_web.post("/dashboard/webhooks", {"default_url": "http://169.254.169.254/latest"})
    page = response.content.decode()
    assert 'id="id_default_url_error"' in page
    assert not WebhookAccount.objects.filter(user=alice).exclude(default_url="").exists()


def test_rotating_the_secret_keeps_the_old_one_for_the_overlap(alice_web, alice) -> None:
    alice_web.get("/dashboard/webhooks")
    old = WebhookAccount.objects.get(user=alice).secret

    alice_web.post("/dashboard/webhooks/rotate-secret")

    account = WebhookAccount.objects.get(user=alice)
    assert account.secret != old and account.previous_secret == old
    page = alice_web.get("/dashboard/webhooks").content.decode()
    assert 'id="rotation-overlap"' in page
    assert alice_web.get("/dashboard/webhooks/rotate-secret").status_code == 405


def test_a_throttled_submission_is_refused_and_leaves_the_session_alone(alice_web, alice, settings) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "jobs_submit": "1/min",
        },
    }
    first = alice_web.post("/dashboard/try", {"image": upload(image_bytes()), "model": "gpt-4o-mini"})
    second = alice_web.post("/dashboard/try", {"image": upload(image_bytes()), "model": "gpt-4o-mini"})

    assert first.status_code == 302
    assert second.status_code == 429
    page = second.content.decode()
    assert "Too many attempts" in page
    assert alice.email in page  # still rendered as logged in
    assert Job.objects.count() == 1
