"""Answers without a network, for development without OPENAI_API_KEY: the same
input always gives the same answer, after a configurable delay, with token
counts computed the way OpenAI counts image and text tokens."""

from __future__ import annotations

import hashlib
import math
import time

from django.conf import settings

from workers.providers.base import SYSTEM_PROMPT, Answer, SolveRequest

# OpenAI's image accounting: 85 base tokens, plus 170 per 512-pixel tile of
# the image scaled to fit 2048x2048 and then 768 on its short side.
_BASE_TOKENS = 85
_TILE_TOKENS = 170


def image_tokens(width: int, height: int, detail: str) -> int:
    if detail == "low" or width <= 0 or height <= 0:
        return _BASE_TOKENS
    scale = min(1.0, 2048 / max(width, height))
    scaled_w, scaled_h = width * scale, height * scale
    scale = min(1.0, 768 / min(scaled_w, scaled_h))
    scaled_w, scaled_h = scaled_w * scale, scaled_h * scale
    return _BASE_TOKENS + _TILE_TOKENS * math.ceil(scaled_w / 512) * math.ceil(scaled_h / 512)


def text_tokens(text: str) -> int:
    # About four characters a token for English text.
    return max(1, math.ceil(len(text) / 4))


class MockProvider:
    def __init__(self, *, latency_ms: int | None = None) -> None:
        self.latency_ms = settings.MOCK_PROVIDER_LATENCY_MS if latency_ms is None else latency_ms

    def solve(self, request: SolveRequest) -> Answer:
        if self.latency_ms > 0:
            time.sleep(self.latency_ms / 1000)
        digest = hashlib.sha256(request.image + request.prompt.encode()).hexdigest()
        value = int(digest[:6], 16) % 1000
        text = (
            "(Mock provider: set OPENAI_API_KEY for real answers.)\n"
            f"The image ({request.mime_type}, {len(request.image)} bytes) was read.\n"
            f"Let $x = {value}$. Then $x + 1 = {value + 1}$.\n"
            f"Final answer: {value + 1}"
        )
        return Answer(
            text=text,
            model=request.model,
            input_tokens=image_tokens(request.width, request.height, request.detail)
            + text_tokens(request.prompt)
            + text_tokens(SYSTEM_PROMPT),
            cached_tokens=0,
            output_tokens=text_tokens(text),
        )
