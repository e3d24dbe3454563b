"""Outbound webhook requests that cannot be pointed at kindred's own network (SSRF).

A partner's URL is resolved, and every address it resolves to must be public: no loopback,
private, link-local (cloud metadata), shared, reserved or multicast address, including IPv4
hidden inside IPv6 forms. The request then goes to that checked address (the host name kept
for the Host header and TLS), so a DNS answer cannot change between check and use. Redirects
are not followed and proxies from the environment are ignored.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import httpx

TIMEOUT_SECONDS = 15.0
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UnsafeTarget(ValueError):
    """The URL may not receive webhooks; the message says why, without echoing secrets."""


def _unwrapped(address):
    if address.version == 6:
        if address.ipv4_mapped:
            return address.ipv4_mapped
        if address.sixtofour:
            return address.sixtofour
        if address.teredo:
            return address.teredo[1]
        if address in NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def is_public(text: str) -> bool:
    address = _unwrapped(ipaddress.ip_address(text.split("%", 1)[0]))
    return address.is_global and not (
        address.is_multicast
        or address.is_loopback
        or address.is_link_local
        or address.is_private
        or address.is_reserved
        or address.is_unspecified
    )


def check_url(url: str, allow_private: bool = False) -> tuple[str, str, int, str]:
    """(scheme, host, port, checked address) for a URL that may receive webhooks."""
    parts = urlsplit(url)
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise UnsafeTarget("must be an https:// URL")
    if parts.username or parts.password:
        raise UnsafeTarget("must not carry credentials")
    if not parts.hostname:
        raise UnsafeTarget("has no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        found = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, ValueError) as error:
        raise UnsafeTarget("host does not resolve") from error
    addresses = sorted({info[4][0] for info in found})
    if not addresses or not (allow_private or all(is_public(a) for a in addresses)):
        raise UnsafeTarget("resolves to a private, loopback or otherwise internal address")
    return parts.scheme, parts.hostname, port, addresses[0]


def post(url: str, body: bytes, headers: dict, allow_private: bool = False) -> httpx.Response:
    scheme, host, port, address = check_url(url, allow_private)
    parts = urlsplit(url)
    netloc = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
    pinned = parts._replace(netloc=netloc).geturl()
    default_port = port == (443 if scheme == "https" else 80)
    with httpx.Client(follow_redirects=False, trust_env=False, timeout=TIMEOUT_SECONDS) as client:
        return client.post(
            pinned,
            content=body,
            headers={**headers, "host": host if default_port else f"{host}:{port}"},
            extensions={"sni_hostname": host},
        )
