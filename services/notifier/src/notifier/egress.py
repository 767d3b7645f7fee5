"""The webhook client's connections: to the addresses that were checked, nowhere else.

The dispatcher checks what a webhook's host resolves to before each attempt, but the HTTP
client used to resolve the name again when it connected: a name answering a public address to
the check and a private one a moment later (DNS rebinding) reached the internal network. Here
the name is resolved once per connection, every address it gives is checked, and the socket is
opened to those addresses themselves; TLS still verifies the certificate against the name.
Hosts the operator allows (`GT_WEBHOOK_ALLOWED_HOSTS`) connect as given. A proxy from the
environment (HTTPS_PROXY) keeps its own transport: the operator's egress control decides there.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from contracts_schema.notifier.urls import address_problem


class PublicAddressesOnly(httpcore.AsyncNetworkBackend):
    def __init__(self, allowed_hosts: Iterable[str]) -> None:
        self._allowed = {h.lower().rstrip(".") for h in allowed_hosts}
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if host.lower().rstrip(".") in self._allowed:
            return await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError as exc:
            raise httpcore.ConnectError(f"{host} does not resolve: {exc}") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        for address in addresses:
            problem = address_problem(address)
            if problem:
                raise httpcore.ConnectError(f"{host} resolves to {address}: {problem}")
        failure: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                failure = exc
        raise failure or httpcore.ConnectError(f"{host} resolves to no address")

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks are not delivered over unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class WebhookTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with the connection pool on `PublicAddressesOnly`."""

    def __init__(self, allowed_hosts: Iterable[str]) -> None:
        super().__init__()
        limits = httpx.Limits()
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=PublicAddressesOnly(allowed_hosts),
        )


def webhook_client(timeout: float, allowed_hosts: Iterable[str]) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=timeout, transport=WebhookTransport(allowed_hosts))
