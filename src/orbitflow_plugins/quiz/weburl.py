"""Addresses that quiz editors type (redirect, logo, privacy policy), made safe to send.

An address is accepted when it is an absolute http(s) URL without credentials, spaces or
control characters; a non-ASCII host name is stored in its IDNA (punycode) form and other
non-ASCII characters percent-encoded, so the address always fits a ``Location`` header.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from urllib.parse import quote, urlsplit, urlunsplit

# Characters that keep their meaning in a URL; everything else is percent-encoded.
_KEEP = "/:@!$&'()*+,;=-._~%?#[]"
_HOST = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.?$")
# Unicode categories a browser or a header would read as a break, a space or nothing at all.
_INVISIBLE = {"Cc", "Cf", "Zs", "Zl", "Zp"}


def _has_control_or_space(value: str) -> bool:
    return any(char == "\\" or unicodedata.category(char) in _INVISIBLE for char in value)


def clean_web_url(value: str, *, https_only: bool = False, limit: int = 1000) -> tuple[str, str | None]:
    """``(address, None)`` with the address normalised, or ``(value, message)`` when refused."""
    wanted = "Enter a full https:// address." if https_only else "Enter a full http:// or https:// address."
    if len(value) > limit:
        return value, f"Use at most {limit} characters."
    if _has_control_or_space(value):
        return value, "Remove the spaces, tabs, line breaks and other control characters from the address."
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:  # a bad port or a bad [IPv6] literal
        return value, wanted
    scheme = parts.scheme.lower()
    if scheme not in ({"https"} if https_only else {"http", "https"}) or not parts.hostname:
        return value, wanted
    if parts.username is not None or parts.password is not None:
        return value, "Leave the user name and password out of the address."
    host = parts.hostname
    if ":" in host:
        try:
            netloc = f"[{ipaddress.IPv6Address(host).compressed}]"
        except ValueError:
            return value, "The address's host name is not valid."
    else:
        try:
            host = host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            return value, "The address's host name is not valid."
        if not _HOST.match(host):
            return value, "The address's host name is not valid."
        netloc = host
    if port is not None:
        netloc += f":{port}"
    address = urlunsplit(
        (
            scheme,
            netloc,
            quote(parts.path, safe=_KEEP),
            quote(parts.query, safe=_KEEP),
            quote(parts.fragment, safe=_KEEP),
        )
    )
    if len(address) > limit:
        return value, f"Use at most {limit} characters."
    return address, None
