"""One HTTP POST to a webhook receiver, bounded in time and in what is read.

The request goes to an address that was already checked (see
validation.webhook_target_resolve): the URL's host is replaced by that address,
while the Host header and the TLS server name (SNI, certificate check) keep
the name, in its ASCII (IDNA) form.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextvars import ContextVar
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from api.webhooks.validation import WebhookTarget, url_for_log

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


async def _post(
    *,
    url: str,
    headers: dict[str, str],
    body: bytes,
    sni_hostname: str | None,
    connect_timeout_s: float,
    total_timeout_s: float,
    max_body_bytes: int,
) -> tuple[int, bytes, str | None]:
    # trust_env=False: an HTTP(S)_PROXY from the environment would connect
    # somewhere other than the address we checked.
    async with httpx.AsyncClient(
        timeout=httpx.Timeout(total_timeout_s, connect=connect_timeout_s),
        follow_redirects=False,
        trust_env=False,
    ) as client:
        extensions = {"sni_hostname": sni_hostname} if sni_hostname else {}
        async with client.stream(
            "POST", url, content=body, headers=headers, extensions=extensions
        ) as response:
            # Raw bytes (no decompression) and at most max_body_bytes of them:
            # a hostile receiver cannot make us buffer or inflate much.
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
    token = _sending.set(True)
    try:
        status_code, raw, retry_after = asyncio.run(
            asyncio.wait_for(
                _post(
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
    latency_ms = int((time.monotonic() - started) * 1000)
    return SendResult(
        status_code=status_code,
        # NUL is replaced like undecodable bytes: PostgreSQL text cannot hold it.
        response_body=raw.decode("utf-8", errors="replace").replace("\x00", "\ufffd"),
        error=error,
        latency_ms=latency_ms,
        retry_after=retry_after,
    )
