"""A webhook receiver: a real HTTP server on 127.0.0.1 in a thread that
records every request and answers from a script.

    with WebhookReceiver() as receiver:
        receiver.script(Reply(500), Reply(500), Reply(200))  # then the default
        ... receiver.url ...
        receiver.requests[0].verify(secret)  # standardwebhooks, as a receiver would

A Reply can delay its answer (`delay_s`, to exercise timeouts), add headers
(`Retry-After`) and send any body. `keep_alive=True` speaks HTTP/1.1 and keeps
connections open (each request records its client port, `peer_port`, so a
test sees which requests shared a connection); `tls=` serves HTTPS with that
server context and records each handshake's server name (SNI).
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass(frozen=True)
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes
    peer_port: int = 0

    def verify(self, secret: str) -> Any:
        """The parsed event, if the Standard Webhooks signature verifies."""
        return Webhook(secret).verify(self.body, self.headers)

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class WebhookReceiver:
    def __init__(
        self, default: Reply | None = None, *, keep_alive: bool = False, tls: ssl.SSLContext | None = None
    ) -> None:
        self.default = default or Reply()
        self.requests: list[ReceivedRequest] = []
        self.server_names: list[str | None] = []  # one per TLS handshake, in order
        self._tls = tls
        self._script: list[Reply] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.requests.append(
                        ReceivedRequest(self.path, dict(self.headers.items()), body, self.client_address[1])
                    )
                    reply = receiver._script.pop(0) if receiver._script else receiver.default
                    receiver._arrived.notify_all()
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:
                    pass  # the sender gave up (timeout) and closed the connection

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if tls is not None:
            tls.sni_callback = self._record_server_name
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def _record_server_name(self, _sock: object, name: str | None, _ctx: object) -> None:
        with self._lock:
            self.server_names.append(name)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        scheme = "https" if self._tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}/hook"

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with these, in order, then the default."""
        with self._lock:
            self._script.extend(replies)

    def wait_for(self, count: int, timeout_s: float = 30.0) -> list[ReceivedRequest]:
        """Block until `count` requests arrived (end-to-end tests)."""
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.requests) >= count, timeout=timeout_s)
            return list(self.requests)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
