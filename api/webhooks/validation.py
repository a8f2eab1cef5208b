"""Where webhooks may go: http(s) URLs whose host resolves only to public
addresses (SSRF protection).

Checked twice: when a URL is accepted (submission, account settings) and again
before every delivery attempt, after a fresh DNS resolution, so a name that
later resolves to an internal address (DNS rebinding) is caught; the sender
then connects to the very address that was checked (see `webhook_target_resolve`).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import idna
from django.conf import settings
from django.core.exceptions import ValidationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata services outside the link-local ranges (AWS IPv6, Alibaba).
_METADATA = {ipaddress.ip_address("fd00:ec2::254"), ipaddress.ip_address("100.100.100.200")}
# Carrier-grade NAT space: not public, treated like the private ranges.
_SHARED = ipaddress.ip_network("100.64.0.0/10")


@dataclass(frozen=True)
class WebhookTarget:
    scheme: str
    # ASCII form (IDNA A-labels for an internationalised name): what is
    # resolved, sent as Host and used as the TLS server name.
    host: str
    port: int

    @property
    def host_header(self) -> str:
        """The Host header value: the ASCII host, bracketed if IPv6, with the
        port unless it is the scheme's default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default_port = 443 if self.scheme == "https" else 80
        return host if self.port == default_port else f"{host}:{self.port}"


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[tuple[str, ipaddress.IPv4Address]]:
    """IPv4 addresses an IPv6 address routes to: 6to4 (2002::/16) carries one,
    Teredo (2001::/32) a server and a client. Packets to such an address end
    up at the IPv4 one, so it must pass the same rules."""
    if ip.sixtofour is not None:
        return [("6to4", ip.sixtofour)]
    if ip.teredo is not None:
        server, client = ip.teredo
        return [("Teredo", server), ("Teredo", client)]
    return []


def address_refusal(ip: IPAddress, *, allow_private: bool) -> str | None:
    """Why `ip` may not receive webhooks, or None if it may."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        else:
            for kind, embedded in _embedded_ipv4(ip):
                reason = address_refusal(embedded, allow_private=allow_private)
                if reason:
                    return f"{reason} ({kind} for {embedded})"
    # Never allowed, whatever the setting: metadata endpoints hand out cloud
    # credentials.
    if ip.is_link_local or ip in _METADATA:
        return "link-local (cloud metadata)"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_multicast:
        return "multicast"
    # Deprecated (RFC 3879) and never public; `is_global` does not catch it.
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return "site-local"
    # Before `is_reserved`, which covers ::1 (in ::/8).
    if ip.is_loopback:
        return None if allow_private else "loopback"
    if ip.is_reserved:
        return "reserved"
    if ip.is_private or ip in _SHARED:
        return None if allow_private else "private"
    if not ip.is_global:
        return "reserved"
    return None


def _refused(url_host: str, ip: IPAddress, reason: str) -> ValidationError:
    target = url_host if url_host == str(ip) else f"{url_host} ({ip})"
    return ValidationError(
        f"Webhook URL {target} is a {reason} address; webhooks may only go to public addresses.",
        code="webhook_url_not_allowed",
    )


def _invalid(message: str = "Webhook URLs must be http(s) with a host.") -> ValidationError:
    return ValidationError(message, code="invalid_webhook_url")


def _ascii_host(hostname: str) -> str:
    """The host as resolved and sent: unchanged if ASCII, else its IDNA
    (UTS #46) A-label form, e.g. bücher.example -> xn--bcher-kva.example.
    Submission and delivery both go through here, so a name refused at one is
    refused at the other."""
    if hostname.isascii():
        return hostname
    try:
        return idna.encode(hostname, uts46=True).decode("ascii")
    except UnicodeError:  # idna.IDNAError is one
        raise _invalid(
            f"Webhook URL host {hostname!r} is not a valid internationalised domain name."
        ) from None


def parse_webhook_url(url: str) -> WebhookTarget:
    """Scheme, host and port of an http(s) URL with a host, or ValidationError."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a bad IPv6 literal, a port that is no number or out of range
        raise _invalid(
            "Webhook URLs must be http(s) with a host and, if any, a port from 1 to 65535."
        ) from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise _invalid()
    if port == 0:
        raise _invalid("Webhook URL port must be from 1 to 65535.")
    default_port = 443 if parts.scheme == "https" else 80
    return WebhookTarget(scheme=parts.scheme, host=_ascii_host(parts.hostname), port=port or default_port)


def url_for_log(url: str) -> str:
    """Scheme, host, port and path of a URL: no credentials (user:pass@), no
    query (?token=...) and no fragment, so it can be logged."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port is not None else host
    return f"{parts.scheme}://{netloc}{parts.path}"


def _resolve(target: WebhookTarget) -> list[IPAddress]:
    """Every address the host stands for (an IP literal stands for itself).
    Raises OSError when the name does not resolve. getaddrinfo has no timeout
    of its own; the system resolver's applies."""
    try:
        return [ipaddress.ip_address(target.host)]
    except ValueError:
        pass
    infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    # Scope IDs ("fe80::1%eth0") are not part of the address.
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def _check(target: WebhookTarget, addresses: list[IPAddress]) -> None:
    # Every address must pass: a client may connect to any of them.
    allow_private = settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS
    for ip in addresses:
        reason = address_refusal(ip, allow_private=allow_private)
        if reason:
            raise _refused(target.host, ip, reason)


def validate_webhook_url(url: str) -> str:
    """An http(s) URL with a host that does not point into a refused range.
    Raises django ValidationError.

    A name that does not resolve now is accepted: DNS may be briefly down or
    the name not yet published, and every delivery checks again anyway.

    No credentials (user:password@): they would be stored and shown with
    every job and delivery; receivers verify the signature instead. (URLs
    stored before this rule are still delivered to, and logged without them.)"""
    target = parse_webhook_url(url)
    if "@" in urlsplit(url).netloc:
        raise _invalid(
            "Webhook URLs must not contain credentials (user:password@); "
            "verify deliveries with their signature instead."
        )
    try:
        addresses = _resolve(target)
    except OSError:
        return url
    _check(target, addresses)
    return url


def webhook_target_resolve(url: str) -> tuple[WebhookTarget, str]:
    """The target of a delivery and the checked address to connect to.

    Raises ValidationError if the URL or any address it resolves to is refused
    (permanent), OSError if the name does not resolve (worth retrying).
    Connecting to the returned address, rather than letting the HTTP client
    resolve the name again, closes the DNS-rebinding window between check and
    connect."""
    target = parse_webhook_url(url)
    addresses = _resolve(target)
    if not addresses:
        raise OSError(f"{target.host} has no addresses")
    _check(target, addresses)
    return target, str(addresses[0])
