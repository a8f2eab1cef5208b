"""OpenAPI generation (drf-spectacular): every operation lists every error
status it can answer, each as an RFC 9457 problem (application/problem+json),
so that generated clients know the shape of every answer.

Which statuses an operation can answer follows from how the view is built:

- 400 validation-error / malformed-request: a body (unsafe methods) or query
  parameters to parse;
- 401 not-authenticated: any permission other than AllowAny;
- 403: session-only or operator-only permissions, and CSRF failures of
  session-authenticated unsafe requests;
- 404 not-found: a path parameter (an unknown or another account's object);
- 413 request-too-large and 415 unsupported-media-type: a body may be read;
- 429 rate-limited: throttles (every view has one, the default included);
- 503 service-unavailable: the database, Redis or the broker is unreachable.

A view's own @extend_schema descriptions of those statuses (which problem
types, when) are kept; statuses it documents beyond these are kept too.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny, IsAuthenticated

from config.problems import CONTENT_TYPE, PROBLEM_BASE


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details, as every error of the API is answered."""

    type = serializers.URLField(help_text=f"Stable problem type URI, e.g. {PROBLEM_BASE}validation-error.")
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    instance = serializers.CharField(help_text="The request path (never its query string).")
    request_id = serializers.CharField(allow_null=True, help_text="Quote it to support.")
    # A field named like Serializer.errors: fine at run time (the metaclass
    # collects fields), but the stubs see the property.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="validation-error: messages by field.",
    )


_DEFAULT_DESCRIPTIONS = {
    "400": "validation-error or malformed-request: the request has invalid fields, "
    "or its body or query could not be parsed.",
    "401": "not-authenticated or authentication-failed: no valid session or token.",
    "403": "permission-denied: not allowed (a session-only or operator-only operation, "
    "or a session request without its CSRF token).",
    "404": "not-found: no such object of yours.",
    "413": "request-too-large: the body is larger than allowed.",
    "415": "unsupported-media-type: send application/json (or multipart where documented).",
    "429": "rate-limited: too many requests; see Retry-After.",
    "503": "service-unavailable: the database, Redis or the broker (`dependency`) is unreachable; "
    "see Retry-After.",
}
_RETRY_AFTER = {
    "Retry-After": {"schema": {"type": "integer", "minimum": 0}, "description": "Seconds to wait."}
}
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


class ProblemAutoSchema(AutoSchema):
    def _problem_statuses(self) -> list[str]:
        view = self.view
        permissions = view.get_permissions()
        authenticated = any(not isinstance(p, AllowAny) for p in permissions)
        session = any(isinstance(a, SessionAuthentication) for a in view.get_authenticators())
        unsafe = self.method in _UNSAFE
        statuses = ["429", "503"]
        query = any(p.get("in") == "query" for p in self._get_parameters())
        if unsafe or query:
            statuses.append("400")
        if authenticated:
            statuses.append("401")
        # Beyond "logged in": session-only (accounts) or operator-only (billing).
        restricted = any(not isinstance(p, (AllowAny, IsAuthenticated)) for p in permissions)
        if restricted or (unsafe and session and authenticated):
            statuses.append("403")
        if "{" in self.path:
            statuses.append("404")
        if unsafe:
            statuses += ["413", "415"]
        return statuses

    def _problem_response(self, description: str) -> dict[str, Any]:
        ref = self.resolve_serializer(ProblemSerializer, "response").ref
        return {"description": description, "content": {CONTENT_TYPE: {"schema": ref}}}

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        codes = set(self._problem_statuses()) | {code for code in responses if code >= "400"}
        for code in codes:
            documented = responses.get(code, {}).get("description", "")
            description = documented if documented and documented != "No response body" else ""
            response = self._problem_response(description or _DEFAULT_DESCRIPTIONS.get(code, "A problem."))
            if code in {"429", "503"}:
                response["headers"] = _RETRY_AFTER
            responses[code] = response
        return dict(sorted(responses.items()))
