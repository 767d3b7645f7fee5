"""Where a webhook may point: https to a public address, unless the operator allows the host.

Pure (stdlib only): the gateway checks a URL when it is subscribed, the notifier checks every
address the host resolves to when it delivers (a name may resolve elsewhere later).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def address_problem(address: str) -> str | None:
    """Why an IP address is not a public one (loopback, private, link-local...), or None."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None  # a name: judged by what it resolves to
    if not ip.is_global or ip.is_multicast:
        return f"{address} is not a public address"
    return None


def url_problem(url: str, allowed_hosts: Iterable[str] = ()) -> str | None:
    """None when the URL may receive webhooks; otherwise a sentence saying why not."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
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
