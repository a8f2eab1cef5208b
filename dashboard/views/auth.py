"""Sign up, email verification, log in and out, password change and reset:
the pages of the flows the accounts API offers, on the same services."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST
from rest_framework.exceptions import APIException

from accounts import services
from accounts.authentication import authenticated_user
from accounts.throttles import (
    EmailAddressThrottle,
    EmailIPThrottle,
    LoginAccountThrottle,
    LoginIPThrottle,
    RegisterThrottle,
)
from config.problems import Problem
from dashboard import forms
from dashboard.views.common import customer_page, page, throttle_wait, throttled_message


def _link_base(request: HttpRequest) -> str:
    """Where links in emails point, as the API's account endpoints do."""
    return settings.FRONTEND_URL or request.build_absolute_uri("/").rstrip("/")


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return settings.LOGIN_REDIRECT_URL


@require_http_methods(["GET", "POST"])
def login_page(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and request.method == "GET":
        return redirect(_next_url(request))
    form = forms.LoginForm(request.POST or None)
    unverified = False
    status = 200
    if request.method == "POST" and form.is_valid():
        wait = throttle_wait(request, LoginIPThrottle())
        # Failed attempts per account, as POST /api/v1/accounts/login counts them.
        account = LoginAccountThrottle()
        if wait is None and not account.reserve(form.cleaned_data["email"]):
            wait = max(1, int(account.wait()))
        if wait is not None:
            form.add_error(None, throttled_message(wait))
            status = 429
        else:
            failed = False
            try:
                services.user_login(request=request, **form.cleaned_data)
                return redirect(_next_url(request))
            except Problem as exc:
                failed = exc.slug == services.INVALID_CREDENTIALS
                unverified = exc.slug == "email-not-verified"
                form.add_error(None, str(exc.detail))
            finally:
                if not failed:
                    account.release()
    return page(
        request,
        "dashboard/login.html",
        {"form": form, "next": request.GET.get("next", ""), "unverified": unverified},
        status=status,
    )


@require_POST
def logout_page(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.success(request, "You are logged out.")
    return redirect("dashboard:login")


@require_http_methods(["GET", "POST"])
def signup_page(request: HttpRequest) -> HttpResponse:
    form = forms.SignupForm(request.POST or None, initial={"invite_code": request.GET.get("code", "")})
    if request.method == "POST" and form.is_valid():
        wait = throttle_wait(request, RegisterThrottle())
        if wait is not None:
            form.add_error(None, throttled_message(wait))
        else:
            try:
                user = services.user_register(**form.cleaned_data, base_url=_link_base(request))
            except APIException as exc:
                forms.errors_to_form(form, exc)
            else:
                request.session["signup_email"] = user.email
                return redirect("dashboard:check-email")
    return page(request, "dashboard/signup.html", {"form": form})


def check_email_page(request: HttpRequest) -> HttpResponse:
    return page(request, "dashboard/check_email.html", {"email": request.session.get("signup_email", "")})


@require_http_methods(["GET", "POST"])
def verify_email_page(request: HttpRequest) -> HttpResponse:
    """GET asks for a click, POST verifies: a mail scanner that follows links
    does not use the link up before its reader has seen it."""
    token = request.POST.get("token") or request.GET.get("token") or ""
    if request.method == "GET":
        return page(request, "dashboard/verify_email.html", {"token": token, "outcome": None})
    try:
        services.user_verify_email(token=token)
        outcome, detail = "verified", "Your email address is confirmed. You can log in now."
    except Problem as exc:
        outcome = {
            "verification-token-expired": "expired",
            "email-already-verified": "already-verified",
        }.get(exc.slug, "invalid")
        detail = str(exc.detail)
    return page(
        request,
        "dashboard/verify_email.html",
        {"token": "", "outcome": outcome, "detail": detail},
        status=200 if outcome in ("verified", "already-verified") else 400,
    )


def _email_form_page(request: HttpRequest, *, template: str, send: str) -> HttpResponse:
    """A form that mails a link and answers the same whether or not the
    address has an account (as the API does)."""
    form = forms.EmailForm(request.POST or None)
    sent = False
    if request.method == "POST" and form.is_valid():
        wait = throttle_wait(request, EmailIPThrottle(), EmailAddressThrottle())
        if wait is not None:
            form.add_error(None, throttled_message(wait))
        else:
            if send == "verification":
                services.verification_email_resend(
                    email=form.cleaned_data["email"], base_url=_link_base(request)
                )
            else:
                services.password_reset_request(
                    email=form.cleaned_data["email"], base_url=_link_base(request)
                )
            sent = True
    return page(request, template, {"form": form, "sent": sent})


@require_http_methods(["GET", "POST"])
def resend_verification_page(request: HttpRequest) -> HttpResponse:
    return _email_form_page(request, template="dashboard/resend_verification.html", send="verification")


@require_http_methods(["GET", "POST"])
def password_reset_page(request: HttpRequest) -> HttpResponse:
    return _email_form_page(request, template="dashboard/password_reset.html", send="reset")


@require_http_methods(["GET", "POST"])
def password_reset_confirm_page(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = forms.PasswordResetConfirmForm(request.POST)
        if form.is_valid():
            try:
                services.password_reset_confirm(**form.cleaned_data)
            except APIException as exc:
                forms.errors_to_form(form, exc)
            else:
                messages.success(request, "Your password is changed. Log in with the new one.")
                return redirect("dashboard:login")
    else:
        # A used, expired or mangled link says so at once, and its token is
        # not put back into the page.
        uid, token = request.GET.get("uid", ""), request.GET.get("token", "")
        try:
            services.password_reset_check(uid=uid, token=token)
        except APIException as exc:
            context = {"form": None, "link_error": exc.detail}
            return page(request, "dashboard/password_reset_confirm.html", context)
        form = forms.PasswordResetConfirmForm(initial={"uid": uid, "token": token})
    return page(request, "dashboard/password_reset_confirm.html", {"form": form})


@customer_page
@require_http_methods(["GET", "POST"])
def password_change_page(request: HttpRequest) -> HttpResponse:
    form = forms.PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.user_password_change(
                request=request, user=authenticated_user(request), **form.cleaned_data
            )
        except APIException as exc:
            forms.errors_to_form(form, exc)
        else:
            messages.success(request, "Your password is changed; your other sessions are logged out.")
            return redirect("dashboard:home")
    return page(request, "dashboard/password_change.html", {"form": form})
