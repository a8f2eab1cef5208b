"""The account emails: plain text, short, one absolute link each.

Composed here, sent by a worker (`workers.tasks.emails.send_email_task`),
published once the current transaction commits. The request never waits for
the mail server, so the endpoints that answer the same whether or not an
account exists also take about as long either way; and no mail goes out
about a change that rolled back."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings

from accounts.models import User
from workers.publish import task_publish_on_commit

SEND_EMAIL_TASK_NAME = "workers.tasks.emails.send_email_task"

# The links open pages of the dashboard; API clients send the same token
# (and uid) to the endpoints named in the text.
VERIFY_EMAIL_PATH = "/dashboard/verify-email"
PASSWORD_RESET_CONFIRM_PATH = "/dashboard/password/reset/confirm"  # noqa: S105 - a path


def _send(*, to: str, subject: str, body: str) -> None:
    # If the publish fails, nothing is sent; the user can ask again.
    task_publish_on_commit(
        SEND_EMAIL_TASK_NAME,
        kwargs={"to": to, "subject": subject, "body": body},
        # What task events (Flower) and logs show: not the secret link.
        kwargsrepr=repr({"subject": subject}),
    )


def send_verification_email(*, user: User, token: str, base_url: str) -> None:
    link = f"{base_url}{VERIFY_EMAIL_PATH}?{urlencode({'token': token})}"
    hours = settings.EMAIL_VERIFICATION_MAX_AGE // 3600
    body = (
        "Welcome to ImageSolve.\n\n"
        f"Confirm your email address by opening this link within {hours} hours:\n\n{link}\n\n"
        f"(API clients: GET /api/v1/accounts/verify-email?token=<the token in the link>.)\n\n"
        "If you did not create an account, ignore this email.\n"
    )
    _send(to=user.email, subject="Confirm your email address", body=body)


def send_password_reset_email(*, user: User, uid: str, token: str, base_url: str) -> None:
    link = f"{base_url}{PASSWORD_RESET_CONFIRM_PATH}?{urlencode({'uid': uid, 'token': token})}"
    body = (
        "Someone asked to reset the password of your ImageSolve account.\n\n"
        f"To choose a new password, open this link:\n\n{link}\n\n"
        "(API clients: POST uid, token and new_password to /api/v1/accounts/password/reset/confirm.)\n"
        f"uid: {uid}\ntoken: {token}\n\n"
        "If it was not you, ignore this email; your password stays the same.\n"
    )
    _send(to=user.email, subject="Reset your password", body=body)
