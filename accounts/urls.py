from django.urls import URLPattern, URLResolver, path

from accounts import apis

urlpatterns: list[URLPattern | URLResolver] = [
    path("csrf", apis.CsrfApi.as_view(), name="accounts-csrf"),
    path("register", apis.RegisterApi.as_view(), name="accounts-register"),
    path("verify-email", apis.VerifyEmailApi.as_view(), name="accounts-verify-email"),
    path("resend-verification", apis.ResendVerificationApi.as_view(), name="accounts-resend-verification"),
    path("login", apis.LoginApi.as_view(), name="accounts-login"),
    path("logout", apis.LogoutApi.as_view(), name="accounts-logout"),
    path("me", apis.MeApi.as_view(), name="accounts-me"),
    path("password/change", apis.PasswordChangeApi.as_view(), name="accounts-password-change"),
    path("password/reset", apis.PasswordResetApi.as_view(), name="accounts-password-reset"),
    path(
        "password/reset/confirm",
        apis.PasswordResetConfirmApi.as_view(),
        name="accounts-password-reset-confirm",
    ),
    path("tokens", apis.TokenListCreateApi.as_view(), name="accounts-tokens"),
    path("tokens/<int:token_id>", apis.TokenDetailApi.as_view(), name="accounts-token-detail"),
]
