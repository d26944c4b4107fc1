"""Outgoing HTTP for delivery channels, safe against server-side request forgery.

The host is resolved once, every address is checked (loopback, private, link-local,
multicast and reserved ranges are refused unless ``WEBHOOKS_ALLOW_PRIVATE_NETWORKS=true``),
and the connection goes to the checked address, so a second DNS answer cannot slip in
another one. Redirects are never followed. Only the first KiB of an answer is read.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3

from orbitflow.deliveries.channels import SendResult, excerpt, http_outcome

READ_LIMIT = 1024
USER_AGENT = "OrbitFlow-Webhooks/1.0"


class BlockedDestination(ValueError):
    """The URL is malformed or points where OrbitFlow may not send."""


class ResolutionFailed(OSError):
    """The host name has no address now (maybe for a while only: retried)."""


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not (address.is_multicast or address.is_reserved or address.is_unspecified)


def check_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL without credentials; raises BlockedDestination."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise BlockedDestination("The address is not a valid URL.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BlockedDestination("Use an http:// or https:// address.")
    if parts.username or parts.password:
        raise BlockedDestination("Leave user names and passwords out of the address.")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def check_literal_host(url: str, *, allow_private: bool) -> None:
    """Refuse, when the URL is entered, what is certain to be refused when sending."""
    _, host, _ = check_url(url)
    if allow_private:
        return
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        raise BlockedDestination("Addresses on this server's own network are not allowed.")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return
    if not is_public(address):
        raise BlockedDestination("Private, loopback and link-local addresses are not allowed.")


def resolve(host: str, port: int, *, allow_private: bool) -> str:
    """One checked address for ``host``; raises BlockedDestination."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise ResolutionFailed(f"cannot resolve {host}: {error.strerror}") from None
    addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
    if not allow_private:
        blocked = [str(address) for address in addresses if not is_public(address)]
        if blocked:
            raise BlockedDestination(f"{host} resolves to a non-public address ({blocked[0]}); refused")
    return str(addresses[0])


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: bytes
    location: str | None = None


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float, allow_private: bool) -> HttpAnswer:
    """POST ``body`` to ``url`` through a checked address. Raises BlockedDestination,
    or urllib3's errors for time-outs and connection failures."""
    scheme, host, port = check_url(url)
    address = resolve(host, port, allow_private=allow_private)
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    default_port = 443 if scheme == "https" else 80
    headers = {
        "Host": host if port == default_port else f"{host}:{port}",
        "User-Agent": USER_AGENT,
        "Content-Type": "application/json",
        **headers,
    }
    options = {"timeout": urllib3.Timeout(total=timeout), "retries": False, "maxsize": 1}
    if scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            address, port, server_hostname=host, assert_hostname=host, cert_reqs="CERT_REQUIRED", **options
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, port, **options)
    try:
        response = pool.urlopen(
            "POST", path, body=body, headers=headers, redirect=False, preload_content=False, assert_same_host=False
        )
        try:
            data = response.read(READ_LIMIT)
        finally:
            response.release_conn()
        return HttpAnswer(response.status, data, response.headers.get("Location"))
    finally:
        pool.close()


def send_result(answer: HttpAnswer) -> SendResult:
    """Read an answer: a redirect is not followed and fails (the receiver must give its
    final address)."""
    if 300 <= answer.status < 400:
        return SendResult("failed", answer.status, f"redirect to {answer.location or '?'} not followed")
    return SendResult(http_outcome(answer.status), answer.status, excerpt(answer.body))


def post_for_result(
    url: str, body: bytes, headers: dict[str, str], *, timeout: float, allow_private: bool
) -> SendResult:
    """:func:`post` read as a delivery result: refused destinations fail, time-outs and
    connection errors are retried."""
    try:
        return send_result(post(url, body, headers, timeout=timeout, allow_private=allow_private))
    except BlockedDestination as error:
        return SendResult("failed", None, str(error))
    except urllib3.exceptions.TimeoutError:
        return SendResult("retry", None, f"no answer within {timeout:g} s")
    except (urllib3.exceptions.HTTPError, OSError) as error:
        return SendResult("retry", None, f"connection failed: {type(error).__name__}: {error}")
