"""API keys, billing and webhook settings."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST
from rest_framework.exceptions import NotFound

from accounts import services as account_services
from accounts.authentication import authenticated_user
from accounts.selectors import token_list_for_user
from api.webhooks import services as webhook_services
from api.webhooks.selectors import webhook_deliveries_recent_for_user
from billing.selectors import billing_summary_for_user, period_list_for_user
from dashboard import charts, forms
from dashboard.views.common import customer_page, page

# --- API keys ----------------------------------------------------------------


@customer_page
@require_http_methods(["GET", "POST"])
def keys_page(request: HttpRequest) -> HttpResponse:
    """POST creates a key and shows its secret in this one response: it is
    not stored, so it can never be shown again."""
    user = authenticated_user(request)
    form = forms.TokenCreateForm(request.POST or None)
    created = secret = None
    if request.method == "POST" and form.is_valid():
        created, secret = account_services.token_create(user=user, name=form.cleaned_data["name"])
        form = forms.TokenCreateForm()
    return page(
        request,
        "dashboard/keys.html",
        {"form": form, "tokens": token_list_for_user(user=user), "created": created, "secret": secret},
    )


@customer_page
@require_http_methods(["GET", "POST"])
def key_revoke_page(request: HttpRequest, token_id: int) -> HttpResponse:
    """GET asks for confirmation, POST revokes."""
    user = authenticated_user(request)
    token = token_list_for_user(user=user).filter(pk=token_id).first()
    if token is None:
        raise NotFound("No such token.")
    if request.method == "POST":
        account_services.token_revoke(user=user, token_id=token.pk)
        messages.success(request, f"The key {token.prefix}… is revoked; requests with it now answer 401.")
        return redirect("dashboard:keys")
    return page(request, "dashboard/key_revoke.html", {"token": token})


# --- Billing -----------------------------------------------------------------


@customer_page
def billing_page(request: HttpRequest) -> HttpResponse:
    user = authenticated_user(request)
    summary = billing_summary_for_user(user_id=user.pk, now=timezone.now())
    return page(
        request,
        "dashboard/billing.html",
        {
            "summary": summary,
            "chart": charts.daily_usage_chart(summary.current),
            "periods": period_list_for_user(user_id=user.pk),
            "due_days": settings.BILLING_DUE_DAYS,
        },
    )


# --- Webhooks ----------------------------------------------------------------


@customer_page
@require_http_methods(["GET", "POST"])
def webhooks_page(request: HttpRequest) -> HttpResponse:
    user = authenticated_user(request)
    account = webhook_services.webhook_account_get_or_create(user=user)
    initial = {"default_url": account.default_url, "default_events": account.default_events}
    form = forms.WebhookSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            webhook_services.webhook_settings_update(
                user=user,
                default_url=form.cleaned_data["default_url"],
                default_events=form.cleaned_data["default_events"],
            )
        except DjangoValidationError as exc:
            form.add_error("default_url", exc.messages)
        else:
            messages.success(request, "Webhook settings saved.")
            return redirect("dashboard:webhooks")
    return page(
        request,
        "dashboard/webhooks.html",
        {
            "form": form,
            "account": account,
            "previous_secret_valid": len(account.signing_secrets()) > 1,
            "deliveries": webhook_deliveries_recent_for_user(user=user),
            "overlap_hours": settings.WEBHOOK_SECRET_ROTATION_OVERLAP_S // 3600,
        },
    )


@customer_page
@require_POST
def webhook_secret_rotate(request: HttpRequest) -> HttpResponse:
    account = webhook_services.webhook_secret_rotate(user=authenticated_user(request))
    messages.success(
        request,
        "A new signing secret is in use. Deliveries are signed with both secrets until "
        f"{account.previous_secret_expires_at:%Y-%m-%d %H:%M} UTC; switch your receiver before then.",
    )
    return redirect("dashboard:webhooks")
