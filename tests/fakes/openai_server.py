"""An OpenAI-compatible HTTP server on loopback, for tests that drive the
real `openai` SDK (in the test process or in a worker process).

It checks requests like the real API: the bearer key, a known model, and an
image part whose data URL decodes to an image. Each test scripts the answers
it needs, in order (`server.script(RateLimit(retry_after=1), Ok())`); once the
script runs out, requests get `Ok()`. Behaviours: Ok (optionally slow),
RateLimit (429 + Retry-After), ServerError (500), Malformed (a broken body),
Hang (no answer until released or the server closes).

Run alone (`python -m tests.fakes.openai_server --delay-ms 1000`), it answers
every request with Ok after that delay and prints its base URL: the worker
bench's model with the real SDK (BENCH_WORKER_SOLVER=openai)."""

from __future__ import annotations

import argparse
import base64
import io
import json
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from PIL import Image

API_KEY = "sk-test-fake-openai-key"
MODELS = {"gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1"}
DEFAULT_TEXT = "We add the numbers: $2 + 2 = 4$.\nFinal answer: 4"


@dataclass
class Ok:
    text: str = DEFAULT_TEXT
    prompt_tokens: int = 1200
    cached_tokens: int = 0
    completion_tokens: int = 80
    delay_s: float = 0.0


@dataclass
class RateLimit:
    retry_after: str | None = "1"


@dataclass
class ServerError:
    status: int = 500


@dataclass
class Malformed:
    body: bytes = b'{"id": "chatcmpl-broken", "choices": [{"index": 0'


@dataclass
class Hang:
    pass


Behaviour = Ok | RateLimit | ServerError | Malformed | Hang


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None
    status: int = 0


@dataclass
class FakeOpenAI:
    server: ThreadingHTTPServer
    thread: threading.Thread
    requests: list[Recorded] = field(default_factory=list)
    # False: requests are not kept (a long bench run reads none of them).
    keep_requests: bool = True
    _script: list[Behaviour] = field(default_factory=list)
    # What requests get once the script runs out.
    default: Behaviour = field(default_factory=Ok)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _released: threading.Event = field(default_factory=threading.Event)
    hanging: threading.Event = field(default_factory=threading.Event)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def script(self, *behaviours: Behaviour) -> None:
        with self._lock:
            self._script.extend(behaviours)

    def next_behaviour(self) -> Behaviour:
        with self._lock:
            return self._script.pop(0) if self._script else self.default

    def completions(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def release(self) -> None:
        """Let hanging requests go (they then get no answer at all)."""
        self._released.set()

    def close(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def _error(status: int, message: str, *, code: str | None = None, param: str | None = None) -> bytes:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return json.dumps({"error": {"message": message, "type": kind, "param": param, "code": code}}).encode()


def _image_problem(body: dict[str, Any]) -> str | None:
    """Why the request has no usable image part, or None."""
    for message in body.get("messages", []):
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for part in content:
            if part.get("type") != "image_url":
                continue
            url = (part.get("image_url") or {}).get("url", "")
            header, _, data = url.partition(",")
            if not header.startswith("data:image/") or not header.endswith(";base64"):
                return "image_url must be a data:image/...;base64 URL"
            try:
                Image.open(io.BytesIO(base64.b64decode(data, validate=True))).load()
            except Exception as exc:
                return f"You uploaded an unsupported image. ({exc})"
            return None
    return "The request has no image_url part."


def _completion(model: str, ok: Ok) -> bytes:
    return json.dumps(
        {
            "id": f"chatcmpl-fake-{time.time_ns()}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": f"{model}-2024-07-18",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": ok.text, "refusal": None},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": ok.prompt_tokens,
                "completion_tokens": ok.completion_tokens,
                "total_tokens": ok.prompt_tokens + ok.completion_tokens,
                "prompt_tokens_details": {"cached_tokens": ok.cached_tokens},
            },
        }
    ).encode()


def _handler(fake_ref: list[FakeOpenAI]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body leave in two writes: with Nagle's algorithm the
        # body would wait for the client's delayed ACK, some 40 ms a call.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            fake = fake_ref[0]
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            record = Recorded(path=self.path, headers=dict(self.headers.items()), body=body)
            if fake.keep_requests:
                fake.requests.append(record)
            status, payload, headers = self._answer(fake, body)
            record.status = status
            if status:
                self._send(status, payload, headers)

        def _answer(self, fake: FakeOpenAI, body: Any) -> tuple[int, bytes, dict[str, str]]:
            if self.path != "/v1/chat/completions":
                return 404, _error(404, f"Unknown path {self.path}"), {}
            if self.headers.get("Authorization") != f"Bearer {API_KEY}":
                return 401, _error(401, "Incorrect API key provided.", code="invalid_api_key"), {}
            if not isinstance(body, dict):
                return 400, _error(400, "The body is not JSON."), {}
            model = body.get("model")
            if model not in MODELS:
                return 404, _error(404, f"The model `{model}` does not exist.", code="model_not_found"), {}
            problem = _image_problem(body)
            if problem:
                return 400, _error(400, problem, code="invalid_image_format", param="image_url"), {}
            behaviour = fake.next_behaviour()
            if isinstance(behaviour, Hang):
                fake.hanging.set()
                fake._released.wait(120)
                self.close_connection = True
                return 0, b"", {}
            if isinstance(behaviour, RateLimit):
                headers = {"Retry-After": behaviour.retry_after} if behaviour.retry_after is not None else {}
                return 429, _error(429, "Rate limit reached.", code="rate_limit_exceeded"), headers
            if isinstance(behaviour, ServerError):
                return behaviour.status, _error(behaviour.status, "The server had an error."), {}
            if isinstance(behaviour, Malformed):
                return 200, behaviour.body, {}
            if behaviour.delay_s:
                time.sleep(behaviour.delay_s)
            return 200, _completion(model, behaviour), {}

    return Handler


def start_fake_openai(*, backlog: int = 5) -> FakeOpenAI:
    """`backlog`: connections the listening socket queues (a bench opens
    hundreds at once; the standard library's default is 5)."""
    ref: list[FakeOpenAI] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(ref), bind_and_activate=False)
    server.request_queue_size = backlog
    server.server_bind()
    server.server_activate()
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="fake-openai", daemon=True)
    fake = FakeOpenAI(server=server, thread=thread)
    ref.append(fake)
    thread.start()
    return fake


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAI]:
    fake = start_fake_openai()
    try:
        yield fake
    finally:
        fake.close()


@pytest.fixture
def fake_openai(openai_server: FakeOpenAI, settings: Any) -> FakeOpenAI:
    """The fake server, with this process's settings pointing at it."""
    settings.OPENAI_API_KEY = API_KEY
    settings.SOLVER = "openai"
    settings.OPENAI_BASE_URL = openai_server.base_url
    settings.OPENAI_TIMEOUT_S = 5
    return openai_server


def worker_env(fake: FakeOpenAI, **extra: str) -> dict[str, str]:
    """Environment for a worker process that talks to the fake server."""
    return {
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_BASE_URL": fake.base_url,
        "OPENAI_TIMEOUT_S": "10",
        "SOLVER": "openai",
        **extra,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="The fake OpenAI server, alone, until SIGTERM or SIGINT.")
    parser.add_argument("--delay-ms", type=int, default=0, help="how long each answer takes")
    parser.add_argument("--backlog", type=int, default=2048)
    args = parser.parse_args()
    fake = start_fake_openai(backlog=args.backlog)
    fake.default = Ok(delay_s=args.delay_ms / 1000)
    fake.keep_requests = False
    print(fake.base_url, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    fake.close()


if __name__ == "__main__":
    main()
