from __future__ import annotations

from typing import Any

import pytest

from tests.problems import assert_problem

__all__ = ["assert_problem"]


@pytest.fixture
def small_limits(settings: Any) -> Any:
    settings.JOB_MAX_IMAGE_BYTES = 50_000
    settings.JOB_MAX_IMAGE_PIXELS = 500 * 500
    settings.JOB_MAX_PROMPT_CHARS = 100
    return settings
