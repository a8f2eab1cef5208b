"""Model providers: OpenAI through its SDK, or the offline mock when no
OPENAI_API_KEY is set."""

from __future__ import annotations

from django.conf import settings

from workers.providers.base import Answer, Provider, ProviderError, SolveRequest, answer_result

__all__ = ["Answer", "Provider", "ProviderError", "SolveRequest", "answer_result", "provider_get"]


def provider_get() -> Provider:
    if settings.OPENAI_API_KEY:
        from workers.providers.openai_provider import OpenAIProvider

        return OpenAIProvider()
    from workers.providers.mock import MockProvider

    return MockProvider()
