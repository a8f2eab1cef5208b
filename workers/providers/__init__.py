"""Model providers, chosen by SOLVER (config/settings.py): OpenAI through its
SDK, the local solver (OCR + SymPy), or the mock with a fixed latency. With
`auto`, the local task tries the local solver and the solve task calls the
model for what it could not answer."""

from __future__ import annotations

from django.conf import settings

from workers.providers.base import Answer, Provider, ProviderError, SolveRequest, answer_result

__all__ = ["Answer", "Provider", "ProviderError", "SolveRequest", "answer_result", "provider_get"]


def provider_get(solver: str | None = None) -> Provider:
    """The provider for `solver` (default: SOLVER). `auto` names the model,
    the provider of the solve queue; its local half runs on the local queue."""
    solver = solver or settings.SOLVER
    if solver in ("openai", "auto"):
        from workers.providers.openai_provider import OpenAIProvider

        return OpenAIProvider()
    if solver == "local":
        from workers.providers.local import LocalProvider

        return LocalProvider()
    if solver == "mock":
        from workers.providers.mock import MockProvider

        return MockProvider()
    raise ValueError(f"Unknown solver {solver!r}")
