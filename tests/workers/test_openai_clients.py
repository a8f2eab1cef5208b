"""The OpenAI provider's clients: one for every THREADS_PER_CLIENT threads of
a process, built once even when those threads start together, each calling
the fake OpenAI server through the real SDK."""

from __future__ import annotations

import socket
import threading

import pytest

import tests.fakes.openai_server as fake_api
from tests.api.helpers import image_bytes
from tests.config.test_locked_cache import at_once
from workers.providers import openai_provider
from workers.providers.base import ProviderError, SolveRequest
from workers.providers.openai_provider import THREADS_PER_CLIENT, OpenAIProvider

THREADS = 2 * THREADS_PER_CLIENT + 8


def _request() -> SolveRequest:
    return SolveRequest(
        image=image_bytes(), mime_type="image/png", prompt="2+2?", model="gpt-4o-mini", detail="low"
    )


def _client_and_group() -> tuple[object, int]:
    client = OpenAIProvider().client
    return client, openai_provider._thread.number // THREADS_PER_CLIENT


def test_threads_starting_together_share_one_client_a_group(settings) -> None:
    settings.OPENAI_API_KEY = "sk-test-clients"
    settings.OPENAI_BASE_URL = "http://127.0.0.1:9/v1"  # never called
    settings.OPENAI_TIMEOUT_S = 7
    seen = at_once(_client_and_group, threads=THREADS)
    groups: dict[int, set[int]] = {}
    for client, group in seen:
        groups.setdefault(group, set()).add(id(client))
    # One client a group, a different one for each group: 72 threads span 3 or 4.
    assert all(len(clients) == 1 for clients in groups.values())
    assert len({next(iter(clients)) for clients in groups.values()}) == len(groups) >= 3
    # A thread keeps its group, so its client, from call to call.
    assert _client_and_group() == _client_and_group()


def test_every_group_calls_the_model(settings) -> None:
    # Its own server: the fixture's listen backlog (5) would refuse 72 connections at once.
    fake = fake_api.start_fake_openai(backlog=THREADS)
    settings.OPENAI_API_KEY = fake_api.API_KEY
    settings.OPENAI_BASE_URL = fake.base_url
    settings.OPENAI_TIMEOUT_S = 10
    request = _request()
    lock = threading.Lock()
    groups: set[int] = set()

    def solve() -> str:
        answer = OpenAIProvider().solve(request)
        with lock:
            groups.add(openai_provider._thread.number // THREADS_PER_CLIENT)
        return answer.text

    try:
        answers = at_once(solve, threads=THREADS)
        assert len(fake.completions()) == THREADS
    finally:
        fake.close()
    assert answers == [fake_api.DEFAULT_TEXT] * THREADS
    assert len(groups) >= 3


def test_a_provider_that_cannot_be_reached_is_a_retryable_error(settings) -> None:
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.OPENAI_API_KEY = fake_api.API_KEY
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:{port}/v1"
    settings.OPENAI_TIMEOUT_S = 5
    request = _request()
    with pytest.raises(ProviderError) as caught:
        OpenAIProvider().solve(request)
    assert (caught.value.code, caught.value.retryable) == ("provider_unavailable", True)
