"""Where a webhook may point: https to a public address, unless the operator allows the host.

Pure (stdlib only): the gateway checks a URL when it is subscribed, the notifier checks every
address the host resolves to when it delivers (a name may resolve elsewhere later).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from contracts_schema.bounds import unsafe_character

URL_MAX = 2048  # what browsers and most HTTP servers take; a webhook URL is far shorter
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # IPv4 addresses translated (RFC 6052)
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # ::a.b.c.d, deprecated (RFC 4291)
SITE_LOCAL = ipaddress.ip_network("fec0::/10")  # deprecated, but private where still used


def host_of(url: str) -> str:
    # "localhost." is "localhost": the trailing dot only roots the name.
    try:
        return (urlsplit(url).hostname or "").lower().rstrip(".")
    except ValueError:  # an unclosed or invalid IPv6 literal: no host
        return ""


def form_problem(url: str) -> str | None:
    """Why `url` is not a well-formed absolute http(s) URL an HTTP client can send, or None.
    It is stored in the notifier's event log for good and sent at every delivery: control,
    bidirectional-formatting and whitespace characters, a port out of range, an unparsable
    host and credentials (a password kept in the log) are refused."""
    if len(url) > URL_MAX:
        return f"a webhook URL has at most {URL_MAX} characters (got {len(url)})"
    char = unsafe_character(url) or next((c for c in url if c.isspace()), None)
    if char is not None:
        return (
            "a webhook URL must not contain whitespace, control or bidirectional formatting"
            f" characters (found U+{ord(char):04X})"
        )
    if not url.startswith(("http://", "https://")):
        return "a webhook URL must be an absolute http:// or https:// URL"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises for a port out of range)
    except ValueError as exc:
        return f"the webhook URL does not parse: {exc}"
    if not parts.hostname:
        return "the webhook URL has no host"
    if parts.username is not None or parts.password is not None:
        return (
            "a webhook URL must not carry a user name or password (it is kept in the event"
            " log); the delivery's signature shows the receiver who sent it"
        )
    return None


def _ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(address)
    except ValueError:
        pass
    # socket only as a parser (inet_aton, no I/O): the forms a resolver also reads as IPv4,
    # 2130706433, 0x7f000001, 127.1.
    try:
        return ipaddress.IPv4Address(socket.inet_aton(address))
    except OSError:
        return None  # a name: judged by what it resolves to


def _embedded(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, Teredo's client, NAT64)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in NAT64 or ip in IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_problem(address: str) -> str | None:
    """Why an IP address is not a public one (loopback, private, link-local...), or None."""
    ip = _ip(address)
    if ip is None:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip in SITE_LOCAL:
        return f"{address} is not a public address"
    inner = _embedded(ip) if isinstance(ip, ipaddress.IPv6Address) else None
    for candidate in (ip, inner):
        if candidate is not None and (not candidate.is_global or candidate.is_multicast):
            return f"{address} is not a public address"
    return None


def url_problem(url: str, allowed_hosts: Iterable[str] = ()) -> str | None:
    """None when the URL may receive webhooks; otherwise a sentence saying why not."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises for a port out of range)
    except ValueError as exc:  # a subscription stored before `form_problem` existed
        return f"the webhook URL does not parse: {exc}"
    host = host_of(url)
    if not host:
        return "the webhook URL has no host"
    if host in {h.lower() for h in allowed_hosts}:
        return None  # the operator's list: any scheme, any address
    if parts.scheme != "https":
        return "a webhook URL must use https (the operator may allow a host otherwise)"
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return f"{host} is not a public host"
    problem = address_problem(host)
    if problem:
        return f"{problem} (the operator may allow a host otherwise)"
    return None
