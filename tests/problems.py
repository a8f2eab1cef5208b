"""The one check that an answer is an RFC 9457 problem of a given type."""

from __future__ import annotations

from typing import Any

PROBLEM = "application/problem+json"


def assert_problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["type"] == f"https://imagesolve.dev/problems/{slug}", body
    assert body["status"] == status
    assert body["title"] and body["detail"] and body["instance"]
    assert body["request_id"] == response["X-Request-ID"]
    return body
