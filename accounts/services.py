"""Account writes: registration with invite codes, email verification, login,
password flows and API tokens."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate, login, password_validation, update_session_auth_hash
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from rest_framework.exceptions import NotFound, ValidationError

from accounts import emails
from accounts.models import ApiToken, InviteCode, User, normalize_email
from accounts.tokens import display_prefix, generate_token, token_digest
from config.problems import Problem

# No 0/O or 1/I/L: codes are read aloud and typed from paper.
INVITE_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
INVITE_CODE_LENGTH = 10
_VERIFY_EMAIL_SALT = "accounts.verify-email"

INVALID_CREDENTIALS = "invalid-credentials"


def normalize_invite_code(code: str) -> str:
    return code.strip().upper()


def _field_problem(*, status: int = 400, slug: str, field: str, detail: str) -> Problem:
    return Problem(status=status, slug=slug, detail=detail, extra={"errors": {field: [detail]}})


def _validate_password(password: str, *, user: User, field: str) -> None:
    try:
        password_validation.validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise ValidationError({field: list(exc.messages)}) from None


# --- Invite codes ---------------------------------------------------------------


def invite_code_create_batch(
    *, count: int, created_by: User | None, expires_at: datetime | None = None
) -> list[InviteCode]:
    codes = [
        InviteCode(
            code="".join(secrets.choice(INVITE_CODE_ALPHABET) for _ in range(INVITE_CODE_LENGTH)),
            created_by=created_by,
            expires_at=expires_at,
        )
        for _ in range(count)
    ]
    return InviteCode.objects.bulk_create(codes)


def _invite_code_check(code: str, *, now: datetime) -> InviteCode:
    invite = InviteCode.objects.filter(code=normalize_invite_code(code)).first()
    if invite is None:
        raise _field_problem(
            slug="invite-code-unknown", field="invite_code", detail="This invite code does not exist."
        )
    if invite.is_used:
        raise _invite_code_used()
    if invite.is_expired(now):
        raise _field_problem(
            slug="invite-code-expired", field="invite_code", detail="This invite code has expired."
        )
    return invite


def _invite_code_used() -> Problem:
    return _field_problem(
        slug="invite-code-used", field="invite_code", detail="This invite code has already been used."
    )


# --- Registration and email verification ------------------------------------------


def user_register(*, email: str, password: str, invite_code: str, base_url: str) -> User:
    """1. Check the code (before the email, so addresses cannot be probed
       without a valid code), the email and the password.
    2. Hash the password outside the transaction: argon2 takes ~100 ms and
       SQLite holds its write lock for the whole transaction.
    3. Create the user and claim the code with a conditional UPDATE in one
       transaction; if another registration claimed it in between, 0 rows
       change and everything rolls back.
    4. Queue the verification email (sent by a worker after the commit)."""
    email = normalize_email(email)
    now = timezone.now()
    invite = _invite_code_check(invite_code, now=now)
    if User.objects.filter(email=email).exists():
        raise _email_taken()
    user = User(email=email)
    _validate_password(password, user=user, field="password")
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
            claimed = (
                InviteCode.objects.filter(pk=invite.pk, used_at__isnull=True)
                .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
                .update(used_by=user, used_at=now)
            )
            if not claimed:
                raise _invite_code_used()
    except IntegrityError:
        # The same email registered by a concurrent request.
        raise _email_taken() from None
    _send_verification(user=user, base_url=base_url)
    return user


def _email_taken() -> ValidationError:
    return ValidationError({"email": ["An account with this email already exists."]})


def email_verification_token(*, user: User) -> str:
    # Signed with SECRET_KEY and timestamped; the email inside makes a token
    # for an old address useless.
    return signing.dumps({"u": user.pk, "e": user.email}, salt=_VERIFY_EMAIL_SALT)


def user_verify_email(*, token: str) -> User:
    invalid = _field_problem(
        slug="verification-token-invalid", field="token", detail="This verification link is not valid."
    )
    try:
        data: Any = signing.loads(token, salt=_VERIFY_EMAIL_SALT, max_age=settings.EMAIL_VERIFICATION_MAX_AGE)
    except signing.SignatureExpired:
        raise _field_problem(
            slug="verification-token-expired",
            field="token",
            detail="This verification link has expired; ask for a new one.",
        ) from None
    except signing.BadSignature:
        raise invalid from None
    user = User.objects.filter(pk=data.get("u"), email=data.get("e")).first()
    if user is None:
        raise invalid
    # Conditional, so the link works once: a second use changes nothing.
    now = timezone.now()
    if not User.objects.filter(pk=user.pk, email_verified_at__isnull=True).update(email_verified_at=now):
        raise Problem(
            status=409, slug="email-already-verified", detail="This email is already verified; log in."
        )
    user.email_verified_at = now
    return user


def verification_email_resend(*, email: str, base_url: str) -> None:
    """Sends only to an existing, unverified account; the caller answers the
    same either way, so the endpoint does not reveal which emails exist."""
    user = User.objects.filter(
        email=normalize_email(email), email_verified_at__isnull=True, is_active=True
    ).first()
    if user is not None:
        _send_verification(user=user, base_url=base_url)


def _send_verification(*, user: User, base_url: str) -> None:
    emails.send_verification_email(user=user, token=email_verification_token(user=user), base_url=base_url)


# --- Sessions and passwords -----------------------------------------------------------


def user_login(*, request: HttpRequest, email: str, password: str) -> User:
    # ModelBackend hashes the password even for an unknown email, so the
    # answer takes as long either way.
    user = authenticate(request, email=normalize_email(email), password=password)
    if user is None:
        raise _field_problem(
            slug=INVALID_CREDENTIALS, field="non_field_errors", detail="The email or password is incorrect."
        )
    assert isinstance(user, User)  # noqa: S101 - AUTH_USER_MODEL
    if not user.is_verified:
        raise Problem(
            status=403,
            slug="email-not-verified",
            detail="Verify your email address before logging in; the link was sent when you registered.",
        )
    login(request, user)
    return user


def user_password_change(
    *, request: HttpRequest, user: User, current_password: str, new_password: str
) -> None:
    if not user.check_password(current_password):
        raise ValidationError({"current_password": ["Your current password is incorrect."]})
    _validate_password(new_password, user=user, field="new_password")
    user.set_password(new_password)
    user.save(update_fields=["password"])
    # Sessions carry a hash of the password: the other sessions stop working
    # now; this one is given the new hash and stays logged in.
    update_session_auth_hash(request, user)


def password_reset_request(*, email: str, base_url: str) -> None:
    """Sends a reset link to an existing active account; silent otherwise."""
    user = User.objects.filter(email=normalize_email(email), is_active=True).first()
    if user is None:
        return
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    emails.send_password_reset_email(user=user, uid=uid, token=token, base_url=base_url)


def password_reset_check(*, uid: str, token: str) -> User:
    """The user a reset link belongs to. Django's token generator hashes the
    password and last login into the token, so it dies once used."""
    try:
        pk = force_str(urlsafe_base64_decode(uid))
        user = User.objects.filter(pk=int(pk), is_active=True).first()
    except (ValueError, OverflowError):
        user = None
    if user is None or not default_token_generator.check_token(user, token):
        raise _field_problem(
            slug="reset-token-invalid",
            field="token",
            detail="This password reset link is invalid or has expired; ask for a new one.",
        )
    return user


def password_reset_confirm(*, uid: str, token: str, new_password: str) -> User:
    user = password_reset_check(uid=uid, token=token)
    _validate_password(new_password, user=user, field="new_password")
    user.set_password(new_password)
    fields = ["password"]
    if user.email_verified_at is None:
        # The link arrived in the mailbox: that proves the address too.
        user.email_verified_at = timezone.now()
        fields.append("email_verified_at")
    user.save(update_fields=fields)
    return user


# --- API tokens ---------------------------------------------------------------------


def token_create(*, user: User, name: str = "", expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """A new token and its secret; the secret is not stored and cannot be shown again."""
    raw = generate_token()
    token = ApiToken.objects.create(
        user=user, name=name, expires_at=expires_at, prefix=display_prefix(raw), digest=token_digest(raw)
    )
    return token, raw


def token_revoke(*, user: User, token_id: int) -> None:
    # Authentication reads revoked_at on every request: no cache to expire.
    revoked = ApiToken.objects.filter(pk=token_id, user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if not revoked:
        raise NotFound("No such token.")
