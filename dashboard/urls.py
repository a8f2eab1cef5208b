from django.urls import URLPattern, URLResolver, path

from dashboard.views import account, auth, jobs, outbox

app_name = "dashboard"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", jobs.home_page, name="home"),
    path("login", auth.login_page, name="login"),
    path("logout", auth.logout_page, name="logout"),
    path("signup", auth.signup_page, name="signup"),
    path("signup/check-email", auth.check_email_page, name="check-email"),
    path("verify-email", auth.verify_email_page, name="verify-email"),
    path("verify-email/resend", auth.resend_verification_page, name="resend-verification"),
    path("password/change", auth.password_change_page, name="password-change"),
    path("password/reset", auth.password_reset_page, name="password-reset"),
    path("password/reset/confirm", auth.password_reset_confirm_page, name="password-reset-confirm"),
    path("try", jobs.try_page, name="try"),
    path("jobs", jobs.job_list_page, name="jobs"),
    path("jobs/<uuid:job_id>", jobs.job_detail_page, name="job-detail"),
    path("jobs/<uuid:job_id>/image", jobs.job_image, name="job-image"),
    path("jobs/<uuid:job_id>/cancel", jobs.job_cancel, name="job-cancel"),
    path("deliveries/<uuid:delivery_id>/redeliver", jobs.delivery_redeliver, name="delivery-redeliver"),
    path("keys", account.keys_page, name="keys"),
    path("keys/<int:token_id>/revoke", account.key_revoke_page, name="key-revoke"),
    path("billing", account.billing_page, name="billing"),
    path("webhooks", account.webhooks_page, name="webhooks"),
    path("webhooks/rotate-secret", account.webhook_secret_rotate, name="webhook-rotate"),
    path("outbox", outbox.outbox_page, name="outbox"),
    path("outbox/<str:message_id>", outbox.outbox_message_page, name="outbox-message"),
]
