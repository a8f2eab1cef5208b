"""One HTTP POST to a webhook receiver, bounded in time and in what is read.

The request goes to an address that was already checked (see
validation.webhook_target_resolve): the URL's host is replaced by that address,
while the Host header and the TLS server name (SNI, certificate check) keep
the name, in its ASCII (IDNA) form.

Each worker thread keeps one event loop and a few clients for its lifetime,
so an attempt does not pay for a new loop, client and TLS context, and
back-to-back deliveries to one receiver reuse its connection. A client (and
so a connection) serves one (scheme, pinned address, port, name) only:
httpx pools connections by the URL's origin alone, which here is the pinned
address, so one pool across names would send a request for one name over a
TLS connection verified for another name on the same address (a shared host,
or a proxy that routes by SNI or by a connection's first Host).
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import threading
import time
from contextvars import ContextVar
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from urllib.parse import urlsplit, urlunsplit

import httpx

from api.webhooks.validation import WebhookTarget, url_for_log
from config.locked_cache import locked_lru_cache

logger = logging.getLogger(__name__)

# True while this module sends: httpx logs every request's full URL at INFO,
# and a webhook URL may carry credentials (user:pass@) or a token in its query.
_sending: ContextVar[bool] = ContextVar("webhook_sending", default=False)


class _RedactWebhookUrls(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if _sending.get() and isinstance(record.args, tuple):
            record.args = tuple(
                url_for_log(str(arg)) if isinstance(arg, httpx.URL) else arg for arg in record.args
            )
        return True


logging.getLogger("httpx").addFilter(_RedactWebhookUrls())


@dataclass(frozen=True)
class SendResult:
    status_code: int | None
    response_body: str
    error: str
    latency_ms: int
    retry_after: str | None


def _pinned_url(url: str, target: WebhookTarget, address: str) -> str:
    """The URL with its host replaced by `address`."""
    parts = urlsplit(url)
    userinfo, _, _ = parts.netloc.rpartition("@")
    ip = f"[{address}]" if ":" in address else address
    netloc = f"{userinfo}@{ip}:{target.port}" if userinfo else f"{ip}:{target.port}"
    return urlunsplit(parts._replace(netloc=netloc))


# A connection idle this long is not reused: servers close idle keep-alive
# connections after a few seconds (Node.js after 5), and a POST sent just as
# the receiver closes fails for nothing.
_IDLE_S = 2.0
# Clients kept per thread: deliveries mostly go to few receivers at a time.
_MAX_CLIENTS = 8

_Key = tuple[str, str, int, str]  # scheme, pinned address, port, ASCII host (Host, SNI)


class _ThreadState(threading.local):
    """One per worker thread (the Celery threads pool runs each attempt in
    one of its threads): an event loop, and the clients bound to it."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._loop: asyncio.AbstractEventLoop | None = None
        # Least recently used first.
        self.clients: dict[_Key, tuple[httpx.AsyncClient, float]] = {}

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        # Made on the thread's first attempt: web processes import this
        # module too, and never send.
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop


_state = _ThreadState()


@locked_lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    """One TLS context (certifi's CAs) for the process: loading the CAs is
    most of what building a client costs. An SSLContext may be shared by
    threads once configured."""
    return httpx.create_ssl_context(trust_env=False)


def _thread_state() -> _ThreadState:
    global _state
    if _state.pid != os.getpid():
        # A forked child (prefork pool): the parent's loop and sockets are not
        # its own to use.
        _state = _ThreadState()
    return _state


def _new_client() -> httpx.AsyncClient:
    # trust_env=False: an HTTP(S)_PROXY from the environment would connect
    # somewhere other than the address we checked. No cookie is ever stored:
    # a client outlives an attempt, and one receiver's cookies must not ride
    # along with later deliveries.
    return httpx.AsyncClient(
        verify=_ssl_context(),
        follow_redirects=False,
        trust_env=False,
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=_IDLE_S),
    )


def _client_for(state: _ThreadState, key: _Key) -> httpx.AsyncClient:
    """The thread's client for `key`. Clients left idle (their connection
    would not be reused anyway) or beyond the cap are closed on the way."""
    now = time.monotonic()
    entry = state.clients.pop(key, None)
    for other, (client, used_at) in list(state.clients.items()):  # oldest first
        if now - used_at > _IDLE_S or len(state.clients) >= _MAX_CLIENTS:
            del state.clients[other]
            _close(state, client)
    client = entry[0] if entry else _new_client()
    state.clients[key] = (client, now)
    return client


def _close(state: _ThreadState, client: httpx.AsyncClient) -> None:
    try:
        state.loop.run_until_complete(client.aclose())
    except Exception:  # a socket the peer already dropped: nothing to keep
        logger.debug("closing a webhook client failed", exc_info=True)


async def _post(
    client: httpx.AsyncClient,
    *,
    url: str,
    headers: dict[str, str],
    body: bytes,
    sni_hostname: str | None,
    connect_timeout_s: float,
    total_timeout_s: float,
    max_body_bytes: int,
) -> tuple[int, bytes, str | None]:
    extensions = {"sni_hostname": sni_hostname} if sni_hostname else {}
    async with client.stream(
        "POST",
        url,
        content=body,
        headers=headers,
        extensions=extensions,
        timeout=httpx.Timeout(total_timeout_s, connect=connect_timeout_s),
    ) as response:
        # Raw bytes (no decompression) and at most max_body_bytes of them:
        # a hostile receiver cannot make us buffer or inflate much. Leaving
        # a body unread closes the connection rather than reusing it.
        data = bytearray()
        async for chunk in response.aiter_raw():
            data += chunk
            if len(data) >= max_body_bytes:
                break
        return response.status_code, bytes(data[:max_body_bytes]), response.headers.get("retry-after")


def post(
    *,
    url: str,
    target: WebhookTarget,
    address: str,
    headers: dict[str, str],
    body: str,
    connect_timeout_s: float,
    total_timeout_s: float,
    max_body_bytes: int,
) -> SendResult:
    """POST `body`; never raises for network trouble, which ends up in `error`.

    httpx's timeouts apply per operation (a receiver trickling one byte at a
    time would never trip them), so the whole exchange also runs under
    asyncio.wait_for with the total timeout."""
    pinned = _pinned_url(url, target, address)
    started = time.monotonic()
    status_code: int | None = None
    raw = b""
    retry_after: str | None = None
    error = ""
    state = _thread_state()
    key: _Key = (target.scheme, address, target.port, target.host)
    client = _client_for(state, key)
    token = _sending.set(True)
    try:
        status_code, raw, retry_after = state.loop.run_until_complete(
            asyncio.wait_for(
                _post(
                    client,
                    url=pinned,
                    headers={**headers, "Host": target.host_header, "Accept-Encoding": "identity"},
                    body=body.encode(),
                    sni_hostname=target.host if target.scheme == "https" else None,
                    connect_timeout_s=connect_timeout_s,
                    total_timeout_s=total_timeout_s,
                    max_body_bytes=max_body_bytes,
                ),
                timeout=total_timeout_s,
            )
        )
    except TimeoutError:
        error = f"Timed out after {total_timeout_s:g} s."
    except httpx.TimeoutException as exc:
        error = f"Timed out ({type(exc).__name__})."
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    finally:
        _sending.reset(token)
        if error or status_code is None:
            # After a failure (or an unexpected error) start afresh: no
            # connection in an unknown state is offered to the next attempt.
            state.clients.pop(key, None)
            _close(state, client)
    latency_ms = int((time.monotonic() - started) * 1000)
    return SendResult(
        status_code=status_code,
        # NUL is replaced like undecodable bytes: PostgreSQL text cannot hold it.
        response_body=raw.decode("utf-8", errors="replace").replace("\x00", "\ufffd"),
        error=error,
        latency_ms=latency_ms,
        retry_after=retry_after,
    )
