"""The model behind the product: OpenAI's chat completions with an image part,
through the official SDK. The SDK's own retries are off (max_retries=0): the
Celery task decides retries, so a job's attempts are counted in one place."""

from __future__ import annotations

import base64
import email.utils
import itertools
import ssl
import threading
import time
from typing import Any

import httpx2
import openai
from django.conf import settings
from openai.types.chat import ChatCompletion

from config.locked_cache import locked_lru_cache
from workers.providers.base import SYSTEM_PROMPT, Answer, ProviderError, SolveRequest

# Threads that share one client (one HTTP connection pool). The SDK's pool
# looks through all its connections on every request and every close, one
# connection a call in flight: with one client for the 500 threads of a
# process that was a third of a call's CPU (bench/report.md).
THREADS_PER_CLIENT = 32
_thread = threading.local()
_thread_numbers = itertools.count()


def _thread_group() -> int:
    """This thread's group of THREADS_PER_CLIENT, in the order threads first
    ask (next() on a count is atomic)."""
    number = getattr(_thread, "number", None)
    if number is None:
        number = _thread.number = next(_thread_numbers)
    return int(number) // THREADS_PER_CLIENT


@locked_lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    # One TLS context for every client of the process: loading the CA bundle
    # is most of what building a client costs (about 57 ms of CPU here).
    return httpx2.create_ssl_context()


# A client a configuration and group of threads: 64 groups are 2,048 threads
# (past that, the least recently used client is built again when its group
# next calls). Built once even when a group's threads start together
# (config/locked_cache.py); the SDK client is thread-safe.
@locked_lru_cache(maxsize=64)
def _client(api_key: str, base_url: str | None, timeout: float, group: int) -> openai.OpenAI:
    return openai.OpenAI(
        api_key=api_key,
        base_url=base_url,
        timeout=timeout,
        max_retries=0,
        http_client=openai.DefaultHttpxClient(verify=_ssl_context()),
    )


def retry_after_seconds(headers: Any) -> float | None:
    """`retry-after-ms`, or `Retry-After` in seconds or as an HTTP date."""
    if headers is None:
        return None
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_from(exc: openai.OpenAIError) -> ProviderError:
    if isinstance(exc, openai.APITimeoutError):
        return ProviderError("timeout", "The model did not answer in time.", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        return ProviderError("provider_unavailable", "Could not reach the model provider.", retryable=True)
    if isinstance(exc, openai.RateLimitError):
        return ProviderError(
            "provider_rate_limited",
            "The model provider is rate limiting requests.",
            retryable=True,
            retry_after=retry_after_seconds(exc.response.headers),
        )
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status >= 500 or status in (408, 409):
            return ProviderError(
                "provider_unavailable",
                f"The model provider failed (HTTP {status}).",
                retryable=True,
                retry_after=retry_after_seconds(exc.response.headers),
            )
        if status in (401, 403):
            return ProviderError(
                "provider_auth_failed", "The model provider refused the API key.", retryable=False
            )
        message = _provider_message(exc)
        if status == 400 and "image" in message.lower():
            return ProviderError(
                "invalid_image", f"The model could not use the image: {message}", retryable=False
            )
        return ProviderError(
            "provider_rejected", f"The model provider rejected the request: {message}", retryable=False
        )
    if isinstance(exc, openai.APIResponseValidationError):
        return ProviderError(
            "provider_bad_response", "The model provider sent a malformed answer.", retryable=True
        )
    return ProviderError("provider_error", f"The model call failed: {exc}", retryable=False)


def _provider_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])[:500]
    return str(exc.message)[:500]


class OpenAIProvider:
    def __init__(self) -> None:
        self.client = _client(
            settings.OPENAI_API_KEY,
            settings.OPENAI_BASE_URL,
            float(settings.OPENAI_TIMEOUT_S),
            _thread_group(),
        )

    def solve(self, request: SolveRequest) -> Answer:
        data_url = f"data:{request.mime_type};base64,{base64.b64encode(request.image).decode('ascii')}"
        try:
            # client.post (the SDK's documented call for a body sent as it is)
            # rather than chat.completions.create, which first walks the body
            # through its type-annotation transformer: a third of the SDK's
            # CPU a call here (3.6 against 2.4 ms, bench/report.md), for a
            # body of plain keys it leaves unchanged. The client's options
            # (key, timeout, no retries), its errors and the parsed
            # ChatCompletion are the same.
            completion = self.client.post(
                "/chat/completions",
                body={"model": request.model, "messages": _messages(request, data_url)},
                cast_to=ChatCompletion,
                options={"security": {"bearer_auth": True}},
            )
        except openai.OpenAIError as exc:
            raise _error_from(exc) from exc
        except ValueError as exc:
            # A 200 whose body is not JSON (a broken proxy): the SDK lets
            # the decoder's error through.
            raise ProviderError(
                "provider_bad_response", "The model provider sent a malformed answer.", retryable=True
            ) from exc
        return _answer_from(completion, request.model)


def _messages(request: SolveRequest, data_url: str) -> Any:
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": request.prompt},
                {"type": "image_url", "image_url": {"url": data_url, "detail": request.detail}},
            ],
        },
    ]


def _answer_from(completion: Any, requested_model: str) -> Answer:
    """The SDK does not validate bodies: a proxy's garbage arrives as an
    object without the expected members, which is a provider failure."""
    try:
        text = completion.choices[0].message.content
        usage = completion.usage
        input_tokens = int(usage.prompt_tokens)
        output_tokens = int(usage.completion_tokens)
        details = getattr(usage, "prompt_tokens_details", None)
        cached = int(getattr(details, "cached_tokens", 0) or 0) if details is not None else 0
    except (AttributeError, IndexError, KeyError, TypeError, ValueError):
        raise ProviderError(
            "provider_bad_response", "The model provider sent a malformed answer.", retryable=True
        ) from None
    if not isinstance(text, str) or not text.strip():
        finish = getattr(completion.choices[0], "finish_reason", None)
        code = "provider_refused" if finish == "content_filter" else "provider_bad_response"
        raise ProviderError(code, "The model returned no answer.", retryable=False)
    return Answer(
        text=text,
        # Billed at the requested model's price: the provider answers with a
        # dated snapshot name (gpt-4o-mini-2024-07-18) that has no price row.
        model=requested_model,
        input_tokens=input_tokens,
        cached_tokens=cached,
        output_tokens=output_tokens,
    )
