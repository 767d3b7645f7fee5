"""The embedded HTTP server answers without Nagle's delay: its connections are TCP_NODELAY.

asyncio sets TCP_NODELAY only on sockets whose `proto` is IPPROTO_TCP; a listener made with
`socket.socket(AF_INET, SOCK_STREAM)` has proto 0, and so has every connection it accepts.
Then a response written in two parts (head, body) waits for the client's delayed ACK, about
40 ms on Linux, on every request (the freshness benchmark measured it). The test reads the
option on the server's side of a connection it served, found by address in this process.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from gateway.serve import Server

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/fd")


async def _hello(request: object) -> PlainTextResponse:
    return PlainTextResponse("hello")


def _served_side(local: tuple[str, int], peer: tuple[str, int]) -> list[int]:
    """TCP_NODELAY of every socket of this process connected from `local` to `peer`."""
    found = []
    for name in os.listdir("/proc/self/fd"):
        try:
            if not os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                continue
            sock = socket.socket(fileno=os.dup(int(name)))
        except OSError:
            continue
        with sock:
            try:
                if sock.type != socket.SOCK_STREAM or sock.family != socket.AF_INET:
                    continue
                if sock.getsockname()[:2] != local or sock.getpeername()[:2] != peer:
                    continue
            except OSError:  # not connected
                continue
            found.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
    return found


async def test_a_served_connection_is_tcp_nodelay() -> None:
    server = await Server(Starlette(routes=[Route("/", _hello)]), log_config=None).start()
    try:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        client = writer.get_extra_info("sockname")[:2]
        nodelay = _served_side((server.host, server.port), client)
        writer.close()
        await writer.wait_closed()
    finally:
        await server.stop()
    assert nodelay == [1]
