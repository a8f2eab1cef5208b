"""The dashboard's forms check only what a form must (a field is there, an
email looks like one); every rule of the product is the services' own, and
their errors are put back next to the fields (`errors_to_form`)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.password_validation import password_validators_help_text_html
from django.utils.functional import lazy
from rest_framework.exceptions import APIException, ValidationError

from api.webhooks.services import WEBHOOK_EVENTS
from config.problems import Problem

# The rules of AUTH_PASSWORD_VALIDATORS, worded by the validators themselves.
_PASSWORD_RULES = lazy(password_validators_help_text_html, str)()


def _new_password_field() -> forms.CharField:
    """A password being chosen, with the validators' rules under it."""
    return forms.CharField(
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_PASSWORD_RULES,
    )


def errors_to_form(form: forms.Form, exc: APIException) -> None:
    """Show a service's error on the form: per field when it names fields
    the form has, else above the form."""
    if isinstance(exc, Problem):
        fields = exc.extra.get("errors") or {}
        detail: Any = fields if any(name in form.fields for name in fields) else str(exc.detail)
    elif isinstance(exc, ValidationError):
        detail = exc.detail
    else:
        detail = str(exc.detail)
    if isinstance(detail, dict):
        for name, messages in detail.items():
            field = name if name in form.fields else None
            for message in messages if isinstance(messages, list) else [messages]:
                form.add_error(field, str(message))
        return
    if isinstance(detail, list):
        for message in detail:
            form.add_error(None, str(message))
        return
    form.add_error(None, str(detail))


class LoginForm(forms.Form):
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password = forms.CharField(
        max_length=128, strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class SignupForm(forms.Form):
    invite_code = forms.CharField(max_length=32, help_text="The code you were given, in any case.")
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password = _new_password_field()


class EmailForm(forms.Form):
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))


class PasswordChangeForm(forms.Form):
    current_password = forms.CharField(
        max_length=128, strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )
    new_password = _new_password_field()


class PasswordResetConfirmForm(forms.Form):
    uid = forms.CharField(max_length=64, widget=forms.HiddenInput)
    token = forms.CharField(max_length=128, widget=forms.HiddenInput)
    new_password = _new_password_field()


class TokenCreateForm(forms.Form):
    name = forms.CharField(
        max_length=100, required=False, help_text="To tell your keys apart, e.g. “production”."
    )


def _model_choices() -> list[tuple[str, str]]:
    return [
        (model, model) for model in dict.fromkeys([settings.OPENAI_MODEL, *settings.OPENAI_ALLOWED_MODELS])
    ]


class SolveForm(forms.Form):
    image = forms.FileField(
        help_text="PNG, JPEG, WEBP or GIF. Pick a file, drop it here, or paste it.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/webp,image/gif"}),
    )
    prompt = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Optional: what to do with the image.",
    )
    model = forms.ChoiceField(choices=_model_choices)

    def clean_prompt(self) -> str:
        # The limit of POST /api/v1/solve (JOB_MAX_PROMPT_CHARS), read per request.
        prompt: str = self.cleaned_data["prompt"]
        if len(prompt) > settings.JOB_MAX_PROMPT_CHARS:
            raise forms.ValidationError(
                f"Ensure this field has no more than {settings.JOB_MAX_PROMPT_CHARS} characters."
            )
        return prompt


class WebhookSettingsForm(forms.Form):
    default_url = forms.URLField(
        max_length=2048,
        required=False,
        assume_scheme="https",
        label="Default URL",
        help_text="Jobs submitted without a webhook_url are announced here. Empty: no default.",
    )
    default_events = forms.MultipleChoiceField(
        choices=[(event, event) for event in WEBHOOK_EVENTS],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Events",
        help_text="completed: the job succeeded, failed or was canceled. started: a worker took it.",
    )
