"""sender.post against real servers on loopback: what a worker thread keeps
between attempts (event loop, clients, connections) never loosens where a
request goes, what it is sent over, or how long and how much is read."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.webhooks import sender
from api.webhooks.validation import WebhookTarget
from tests.fakes.webhook_receiver import Reply, WebhookReceiver


def _post(
    receiver_port: int,
    host: str = "127.0.0.1",
    *,
    scheme: str = "http",
    total_timeout_s: float = 5,
    max_body_bytes: int = 100,
) -> sender.SendResult:
    """POST to `host` (the name: Host header, SNI), pinned to 127.0.0.1."""
    return sender.post(
        url=f"{scheme}://{host}:{receiver_port}/hook",
        target=WebhookTarget(scheme=scheme, host=host, port=receiver_port),
        address="127.0.0.1",
        headers={"Content-Type": "application/json"},
        body='{"type": "job.succeeded"}',
        connect_timeout_s=2,
        total_timeout_s=total_timeout_s,
        max_body_bytes=max_body_bytes,
    )


@pytest.fixture(autouse=True)
def fresh_clients() -> Iterator[None]:
    """Each test starts and ends with no client kept by this thread."""

    def close_all() -> None:
        state = sender._thread_state()
        for client, _ in state.clients.values():
            state.loop.run_until_complete(client.aclose())
        state.clients.clear()

    close_all()
    yield
    close_all()


@pytest.fixture
def keep_alive() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(keep_alive=True) as server:
        yield server


def test_deliveries_to_one_receiver_reuse_its_connection(keep_alive) -> None:
    for _ in range(3):
        assert _post(keep_alive.port).status_code == 200
    ports = {request.peer_port for request in keep_alive.requests}
    assert len(keep_alive.requests) == 3 and len(ports) == 1


def test_a_reused_connection_still_carries_the_names_host_header(keep_alive) -> None:
    for _ in range(2):
        assert _post(keep_alive.port, "hooks.example").status_code == 200
    first, second = keep_alive.requests
    assert first.peer_port == second.peer_port
    assert first.headers["Host"] == second.headers["Host"] == f"hooks.example:{keep_alive.port}"


def test_two_names_on_one_address_never_share_a_connection(keep_alive) -> None:
    # Two accounts' receivers behind one address: a proxy that routes by a
    # connection's first Host would hand b's request to a.
    _post(keep_alive.port, "a.example")
    _post(keep_alive.port, "b.example")
    _post(keep_alive.port, "a.example")
    a1, b, a2 = keep_alive.requests
    assert [r.headers["Host"].split(":")[0] for r in (a1, b, a2)] == ["a.example", "b.example", "a.example"]
    assert a1.peer_port == a2.peer_port != b.peer_port


def test_threads_do_not_share_connections_and_all_deliver(keep_alive) -> None:
    results: list[sender.SendResult] = []

    def deliver() -> None:
        results.extend(_post(keep_alive.port) for _ in range(5))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [r.status_code for r in results] == [200] * 20
    # One connection per thread, each used for its five requests.
    ports = [request.peer_port for request in keep_alive.requests]
    assert sorted(ports.count(port) for port in set(ports)) == [5, 5, 5, 5]


def test_a_receivers_cookie_is_never_sent_back(keep_alive) -> None:
    keep_alive.script(Reply(200, headers={"Set-Cookie": "session=secret; Path=/"}))
    _post(keep_alive.port)
    _post(keep_alive.port)
    assert "Cookie" not in keep_alive.requests[1].headers


def test_a_proxy_in_the_environment_is_ignored(keep_alive, monkeypatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    assert _post(keep_alive.port).status_code == 200


def test_after_a_timeout_the_next_attempt_gets_a_fresh_connection(keep_alive) -> None:
    keep_alive.script(Reply(200, delay_s=2))
    started = time.monotonic()
    timed_out = _post(keep_alive.port, total_timeout_s=0.5)
    assert time.monotonic() - started < 1.5
    assert timed_out.status_code is None and "Timed out" in timed_out.error
    assert _post(keep_alive.port).status_code == 200
    first, second = keep_alive.requests
    assert first.peer_port != second.peer_port


def test_the_body_cap_holds_and_the_next_attempt_still_works(keep_alive) -> None:
    keep_alive.script(Reply(200, body=b"x" * 200_000))
    capped = _post(keep_alive.port, max_body_bytes=100)
    assert capped.response_body == "x" * 100
    after = _post(keep_alive.port, max_body_bytes=100)
    assert after.status_code == 200 and after.response_body == "ok"


def test_a_trickling_receiver_is_cut_at_the_total_timeout() -> None:
    """httpx's own timeouts are per read: one byte at a time never trips
    them. The whole exchange has a deadline too."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def trickle() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"z" * 100:
                if stop.wait(0.1):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return  # the sender gave up

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        started = time.monotonic()
        result = _post(listener.getsockname()[1], total_timeout_s=1)
        assert time.monotonic() - started < 2
        assert result.status_code is None and result.error == "Timed out after 1 s."
    finally:
        stop.set()
        listener.close()
        thread.join(5)


# --- TLS --------------------------------------------------------------------------


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory) -> Path:
    """A CA, and a certificate it signed for a.example and b.example only."""
    if not shutil.which("openssl"):
        pytest.skip("needs the openssl command")
    tmp = tmp_path_factory.mktemp("tls")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl(
        "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
        cwd=tmp,
    )  # fmt: skip
    _openssl("req", *ec, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=a.example", cwd=tmp)
    (tmp / "leaf.ext").write_text("subjectAltName=DNS:a.example,DNS:b.example\n")
    _openssl(
        "x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "leaf.pem", "-days", "2", "-extfile", "leaf.ext",
        cwd=tmp,
    )  # fmt: skip
    return tmp


@pytest.fixture
def tls_receiver(certificates, monkeypatch) -> Iterator[WebhookReceiver]:
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(certificates / "leaf.pem", certificates / "leaf.key")
    # The sender trusts the test CA instead of certifi's (and nothing else).
    trusted = ssl.create_default_context(cafile=str(certificates / "ca.pem"))
    monkeypatch.setattr(sender, "_ssl_context", lambda: trusted)
    with WebhookReceiver(keep_alive=True, tls=server) as receiver:
        yield receiver


def test_https_sends_the_name_as_sni_and_checks_it_on_every_new_connection(tls_receiver) -> None:
    port = tls_receiver.port
    for host in ("a.example", "a.example", "b.example", "a.example"):
        assert _post(port, host, scheme="https").status_code == 200
    # One handshake per name: a's connection is reused for a only.
    assert tls_receiver.server_names == ["a.example", "b.example"]
    hosts = [request.headers["Host"] for request in tls_receiver.requests]
    assert hosts == [f"{h}:{port}" for h in ("a.example", "a.example", "b.example", "a.example")]
    ports = [request.peer_port for request in tls_receiver.requests]
    assert ports[0] == ports[1] == ports[3] != ports[2]


def test_a_name_the_certificate_does_not_cover_is_refused_even_beside_a_live_connection(
    tls_receiver,
) -> None:
    assert _post(tls_receiver.port, "a.example", scheme="https").status_code == 200
    refused = _post(tls_receiver.port, "c.example", scheme="https")
    assert refused.status_code is None and "CERTIFICATE_VERIFY_FAILED" in refused.error
    assert len(tls_receiver.requests) == 1
