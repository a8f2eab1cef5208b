"""OpenAPI description of the bearer token scheme (loaded by config/urls.py)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "tok_…",
            "description": "An API token from POST /api/v1/accounts/tokens: `Authorization: Bearer tok_…`.",
        }
