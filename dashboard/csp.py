"""A strict Content-Security-Policy for the dashboard's pages: everything from
this origin only, no inline scripts or styles. KaTeX sets its styles through
the DOM (allowed), never as style attributes in markup (which would not be).

Only under DASHBOARD_PREFIX (and `/`): Django's admin and the Swagger UI of
/api/docs/ carry inline scripts of their own, which such a policy would break."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

DASHBOARD_PREFIX = "/dashboard/"

POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        # blob: previews an image picked in the browser before it is sent.
        "img-src 'self' blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path == "/" or request.path.startswith(DASHBOARD_PREFIX):
            response.headers.setdefault("Content-Security-Policy", POLICY)
            # Pages show API keys and secrets: never from a shared cache.
            response.headers.setdefault("Cache-Control", "no-store")
        return response
