from __future__ import annotations

from typing import Any

import pytest


def assert_problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith("/" + slug), body
    assert body["status"] == status
    return body


@pytest.fixture
def small_limits(settings: Any) -> Any:
    settings.JOB_MAX_IMAGE_BYTES = 50_000
    settings.JOB_MAX_IMAGE_PIXELS = 500 * 500
    settings.JOB_MAX_PROMPT_CHARS = 100
    return settings
