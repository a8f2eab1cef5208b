"""HTTP surface of accounts: thin views that parse, authorize, call one
service and render."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.authentication import authenticated_user
from accounts.models import User
from accounts.selectors import token_list_for_user
from accounts.throttles import (
    EmailAddressThrottle,
    EmailIPThrottle,
    LoginAccountThrottle,
    LoginIPThrottle,
    RegisterThrottle,
)
from config.parsers import JSONParser
from config.problems import Problem


def _problem(description: str) -> OpenApiResponse:
    # Rendered as an application/problem+json Problem by config.schema.
    return OpenApiResponse(description=description)


_UNAUTHENTICATED = _problem("not-authenticated: no valid session or token.")
_SESSION_REQUIRED = _problem("session-required: log in with a session; an API token cannot do this.")
_THROTTLED = _problem("rate-limited: too many requests; see Retry-After.")

# The POST endpoints used before a session exists take no authentication, so
# no CSRF check either. They read JSON only: a <form> on another site can post
# urlencoded, multipart or text/plain bodies, but application/json needs a
# CORS preflight, which only CORS_ALLOWED_ORIGINS pass. Otherwise such a form
# could log a visitor's browser into the attacker's account (login CSRF).
_JSON_ONLY = [JSONParser]


class IsSessionAuthenticated(BasePermission):
    """Logged in through a session (the browser flow), not with an API token:
    a leaked token must not be able to mint more tokens or change the password."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if not isinstance(request.successful_authenticator, SessionAuthentication):
            raise Problem(
                status=403,
                slug="session-required",
                detail="This needs a logged-in session (POST /api/v1/accounts/login), not an API token.",
            )
        return True


def _link_base(request: HttpRequest) -> str:
    """Where links in emails point: FRONTEND_URL, or the host this request came to."""
    return settings.FRONTEND_URL or request.build_absolute_uri("/").rstrip("/")


@extend_schema_serializer(component_name="AccountUser")
class UserOutputSerializer(serializers.ModelSerializer):
    email_verified = serializers.BooleanField(source="is_verified")

    class Meta:
        model = User
        fields = ["id", "email", "email_verified", "email_verified_at", "date_joined"]


@extend_schema_serializer(component_name="AccountsMessage")
class DetailOutputSerializer(serializers.Serializer):
    detail = serializers.CharField()


# --- CSRF ----------------------------------------------------------------------------


class CsrfApi(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema_serializer(component_name="CsrfToken")
    class OutputSerializer(serializers.Serializer):
        csrf_token = serializers.CharField()
        header_name = serializers.CharField()

    @extend_schema(
        operation_id="accounts_csrf",
        summary="Get a CSRF token (also set as the csrftoken cookie)",
        description="Session-authenticated unsafe requests must send it in the X-CSRFToken header.",
        responses={200: OutputSerializer},
    )
    @method_decorator(ensure_csrf_cookie)
    def get(self, request: Request) -> Response:
        return Response({"csrf_token": get_token(request), "header_name": "X-CSRFToken"})


# --- Registration and verification --------------------------------------------------


class RegisterApi(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    parser_classes = _JSON_ONLY
    throttle_classes = [RegisterThrottle]

    @extend_schema_serializer(component_name="Register")
    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField(max_length=254)
        password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)
        invite_code = serializers.CharField(max_length=32)

    @extend_schema(
        operation_id="accounts_register",
        summary="Register with an invite code; sends a verification email",
        request=InputSerializer,
        responses={
            201: UserOutputSerializer,
            400: _problem(
                "validation-error (malformed email, weak password, email taken), "
                "invite-code-unknown, invite-code-used or invite-code-expired."
            ),
            429: _THROTTLED,
        },
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_register(**data.validated_data, base_url=_link_base(request))
        return Response(UserOutputSerializer(user).data, status=status.HTTP_201_CREATED)


class VerifyEmailApi(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema_serializer(component_name="VerifyEmail")
    class InputSerializer(serializers.Serializer):
        token = serializers.CharField(max_length=500, help_text="From the emailed link.")

    @extend_schema(
        operation_id="accounts_verify_email",
        summary="Verify an email address with the link from the verification email",
        parameters=[InputSerializer],
        responses={
            200: UserOutputSerializer,
            400: _problem("verification-token-invalid or verification-token-expired."),
            409: _problem("email-already-verified: the link was used already."),
        },
    )
    def get(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        user = services.user_verify_email(token=data.validated_data["token"])
        return Response(UserOutputSerializer(user).data)


@extend_schema_serializer(component_name="EmailAddress")
class _EmailInputSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class _SendsEmailApi(APIView):
    """Takes an email address, maybe mails it, and answers 202 the same either
    way: the answer must not tell which addresses have accounts."""

    authentication_classes = []
    permission_classes = [AllowAny]
    parser_classes = _JSON_ONLY
    throttle_classes = [EmailIPThrottle, EmailAddressThrottle]
    answer = ""

    def send(self, *, email: str, base_url: str) -> None:
        raise NotImplementedError

    def post(self, request: Request) -> Response:
        data = _EmailInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        self.send(email=data.validated_data["email"], base_url=_link_base(request))
        return Response({"detail": self.answer}, status=status.HTTP_202_ACCEPTED)


_SENDS_EMAIL_RESPONSES = {202: DetailOutputSerializer, 400: _problem("validation-error."), 429: _THROTTLED}


@extend_schema_view(
    post=extend_schema(
        operation_id="accounts_resend_verification",
        summary="Send the verification email again",
        description="Answers the same whether or not an unverified account has this email.",
        request=_EmailInputSerializer,
        responses=_SENDS_EMAIL_RESPONSES,
    )
)
class ResendVerificationApi(_SendsEmailApi):
    answer = "If an unverified account has this email, a new link is on its way."

    def send(self, *, email: str, base_url: str) -> None:
        services.verification_email_resend(email=email, base_url=base_url)


# --- Sessions ---------------------------------------------------------------------------


class LoginApi(APIView):
    # No authentication: logging in is what creates the session.
    authentication_classes = []
    permission_classes = [AllowAny]
    parser_classes = _JSON_ONLY
    # Every attempt per IP here; failed attempts per account in post().
    throttle_classes = [LoginIPThrottle]

    @extend_schema_serializer(component_name="Login")
    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField(max_length=254)
        password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)

    @extend_schema(
        operation_id="accounts_login",
        summary="Log in; sets the session cookie (and a new csrftoken cookie)",
        request=InputSerializer,
        responses={
            200: UserOutputSerializer,
            400: _problem("invalid-credentials (the email or password is wrong) or validation-error."),
            403: _problem("email-not-verified: verify the email first."),
            429: _THROTTLED,
        },
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # The slot is taken before the password is checked, so concurrent
        # guesses cannot all get in; it is kept only if the password was wrong.
        account = LoginAccountThrottle()
        if not account.reserve(data.validated_data["email"]):
            self.throttled(request, account.wait())
        failed = False
        try:
            user = services.user_login(request=request._request, **data.validated_data)
        except Problem as exc:
            failed = exc.slug == services.INVALID_CREDENTIALS
            raise
        finally:
            if not failed:
                account.release()
        return Response(UserOutputSerializer(user).data)


class LogoutApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="accounts_logout",
        summary="Log out (ends this session)",
        request=None,
        responses={204: None, 401: _UNAUTHENTICATED},
    )
    def post(self, request: Request) -> Response:
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    @extend_schema(
        operation_id="accounts_me",
        summary="The current user (session or API token)",
        responses={200: UserOutputSerializer, 401: _UNAUTHENTICATED},
    )
    def get(self, request: Request) -> Response:
        return Response(UserOutputSerializer(authenticated_user(request)).data)


# --- Passwords ------------------------------------------------------------------------------


class PasswordChangeApi(APIView):
    permission_classes = [IsSessionAuthenticated]

    @extend_schema_serializer(component_name="PasswordChange")
    class InputSerializer(serializers.Serializer):
        current_password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)
        new_password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)

    @extend_schema(
        operation_id="accounts_password_change",
        summary="Change the password; this session stays, the others end",
        request=InputSerializer,
        responses={
            204: None,
            400: _problem("validation-error: wrong current password or weak new password."),
            401: _UNAUTHENTICATED,
            403: _SESSION_REQUIRED,
        },
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.user_password_change(
            request=request._request, user=authenticated_user(request), **data.validated_data
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    post=extend_schema(
        operation_id="accounts_password_reset",
        summary="Email a password reset link",
        description="Answers the same whether or not an account has this email.",
        request=_EmailInputSerializer,
        responses=_SENDS_EMAIL_RESPONSES,
    )
)
class PasswordResetApi(_SendsEmailApi):
    answer = "If an account has this email, a reset link is on its way."

    def send(self, *, email: str, base_url: str) -> None:
        services.password_reset_request(email=email, base_url=base_url)


class PasswordResetConfirmApi(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    parser_classes = _JSON_ONLY

    @extend_schema_serializer(component_name="PasswordResetCheck")
    class CheckSerializer(serializers.Serializer):
        uid = serializers.CharField(max_length=64)
        token = serializers.CharField(max_length=128)

    @extend_schema_serializer(component_name="PasswordResetConfirm")
    class InputSerializer(CheckSerializer):
        new_password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)

    @extend_schema(
        operation_id="accounts_password_reset_check",
        summary="Check a password reset link (the emailed URL) before choosing a password",
        parameters=[CheckSerializer],
        responses={200: DetailOutputSerializer, 400: _problem("reset-token-invalid.")},
    )
    def get(self, request: Request) -> Response:
        data = self.CheckSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        services.password_reset_check(**data.validated_data)
        return Response({"detail": "The link is valid: POST uid, token and new_password here."})

    @extend_schema(
        operation_id="accounts_password_reset_confirm",
        summary="Set a new password with the uid and token from the reset email",
        request=InputSerializer,
        responses={
            204: None,
            400: _problem("reset-token-invalid, or validation-error (weak new password)."),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.password_reset_confirm(**data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- API tokens ----------------------------------------------------------------------------


@extend_schema_serializer(component_name="ApiToken")
class TokenOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The first characters of the token, to tell tokens apart.")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    last_used_at = serializers.DateTimeField(allow_null=True)


class TokenListCreateApi(APIView):
    permission_classes = [IsSessionAuthenticated]

    @extend_schema_serializer(component_name="TokenCreate")
    class InputSerializer(serializers.Serializer):
        # Untrimmed: DRF trims after checking max_length, so " " + 100
        # characters would pass a limit the schema states as 100.
        name = serializers.CharField(
            max_length=100, required=False, allow_blank=True, default="", trim_whitespace=False
        )
        expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)

        def validate_expires_at(self, value: Any) -> Any:
            if value is not None and value <= timezone.now():
                raise serializers.ValidationError("Must be in the future.")
            return value

    @extend_schema_serializer(component_name="TokenCreated")
    class CreatedOutputSerializer(TokenOutputSerializer):
        token = serializers.CharField(help_text="The full token. Shown only in this response.")

    @extend_schema(
        operation_id="accounts_tokens_list",
        summary="List your API tokens (not revoked)",
        responses={200: TokenOutputSerializer(many=True), 401: _UNAUTHENTICATED, 403: _SESSION_REQUIRED},
    )
    def get(self, request: Request) -> Response:
        tokens = token_list_for_user(user=authenticated_user(request))
        return Response(TokenOutputSerializer(tokens, many=True).data)

    @extend_schema(
        operation_id="accounts_tokens_create",
        summary="Create an API token; the full token is returned once",
        request=InputSerializer,
        responses={
            201: CreatedOutputSerializer,
            400: _problem("validation-error."),
            401: _UNAUTHENTICATED,
            403: _SESSION_REQUIRED,
        },
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        token, raw = services.token_create(user=authenticated_user(request), **data.validated_data)
        body = {**TokenOutputSerializer(token).data, "token": raw}
        return Response(self.CreatedOutputSerializer(body).data, status=status.HTTP_201_CREATED)


class TokenDetailApi(APIView):
    permission_classes = [IsSessionAuthenticated]

    @extend_schema(
        operation_id="accounts_tokens_revoke",
        summary="Revoke an API token; it stops working at once",
        responses={
            204: None,
            401: _UNAUTHENTICATED,
            403: _SESSION_REQUIRED,
            404: _problem("not-found: no such token of yours."),
        },
    )
    def delete(self, request: Request, token_id: int) -> Response:
        services.token_revoke(user=authenticated_user(request), token_id=token_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
