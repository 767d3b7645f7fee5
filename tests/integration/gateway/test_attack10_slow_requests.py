"""attack10: a client that opens connections and sends its requests a byte at a time (or
nothing at all) no longer holds them for as long as it likes.

uvicorn times out only an idle keep-alive connection, after a response: a connection that sent
nothing, or trickled its request head or body, stayed open (each byte cancelled the timer),
so one client could hold every file descriptor of the gateway. Now each request must arrive
whole within the server's request deadline (`gateway.deadline`; 1 s here, 30 s by default);
requests that arrived are answered however long that takes, and websockets are left alone."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
import websockets
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from gateway.serve import Server

DEADLINE = 1.0
CLOSED_BY = 30.0  # how long the test waits for the close before it fails (not a measurement)


async def slow(request: Request) -> PlainTextResponse:
    await request.body()
    await asyncio.sleep(DEADLINE * 2)  # answered past the deadline: the request had arrived
    return PlainTextResponse("done")


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text(text)


APP = Starlette(routes=[Route("/slow", slow, methods=["POST"]), WebSocketRoute("/ws", echo)])


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    running = await Server(APP, request_deadline=DEADLINE).start()
    yield running
    await running.stop()


async def closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection."""
    return await asyncio.wait_for(reader.read(), CLOSED_BY)


async def trickle(writer: asyncio.StreamWriter, data: bytes) -> None:
    with contextlib.suppress(ConnectionError):
        for byte in data:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(DEADLINE / 4)


HEAD = b"POST /slow HTTP/1.1\r\nHost: gateway\r\nContent-Length: 5000\r\n"


@pytest.mark.parametrize("sends", ["nothing", "head", "body"])
async def test_a_request_that_does_not_arrive_in_time_is_closed(server: Server, sends: str) -> None:
    reader, writer = await asyncio.open_connection(server.host, server.port)
    sending = None
    if sends == "head":
        sending = asyncio.create_task(trickle(writer, HEAD + b"X-Slow: " + b"a" * 10_000))
    elif sends == "body":
        writer.write(HEAD + b"\r\n")
        sending = asyncio.create_task(trickle(writer, b"{" * 5000))
    try:
        assert await closed(reader) == b""  # closed without an answer
    finally:
        if sending is not None:
            sending.cancel()
        writer.close()


async def test_an_arrived_request_is_answered_past_the_deadline_and_keeps_its_connection(
    server: Server,
) -> None:
    reader, writer = await asyncio.open_connection(server.host, server.port)
    for _ in range(2):  # the same connection, kept alive between them
        writer.write(b"POST /slow HTTP/1.1\r\nHost: gateway\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), CLOSED_BY)
        assert head.startswith(b"HTTP/1.1 200"), head
        assert await reader.readexactly(4) == b"done"
    writer.close()


async def test_a_websocket_outlives_the_deadline(server: Server) -> None:
    async with websockets.connect(f"ws://{server.host}:{server.port}/ws", open_timeout=60) as ws:
        await asyncio.sleep(DEADLINE * 2)
        await ws.send("still here")
        assert await asyncio.wait_for(ws.recv(), CLOSED_BY) == "still here"
