"""correct22: stopping the gateway's HTTP server ends although a connection never does.

uvicorn's graceful shutdown waits for ever by default (`timeout_graceful_shutdown=None`): a
request still being answered -- a handler that never returns, a client holding a slow answer
open -- held `Server.stop` (so `make run`'s Ctrl-C and a container's stop) until the process
was killed, and the rest of the shutdown (read side, NATS) never ran. Now a stop waits its
grace (GT_HTTP_SHUTDOWN_GRACE; 0.5 s here, 10 s by default) and then cancels what is left.
An idle connection, a request whose body never finishes and an open websocket end the stop
as before; a request that finishes within the grace is still answered whole.
"""

from __future__ import annotations

import asyncio

import pytest
import websockets
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from gateway.process_config import HttpSettings
from gateway.serve import DEFAULT_SHUTDOWN_GRACE, Server

GRACE = 0.5
STOPPED_BY = 60.0  # bounds a hang (before: for ever); not a measurement
STARTED: asyncio.Event | None = None


async def never(request: Request) -> PlainTextResponse:
    assert STARTED is not None
    STARTED.set()
    await asyncio.Event().wait()  # never answers
    return PlainTextResponse("never")


async def finishing(request: Request) -> PlainTextResponse:
    assert STARTED is not None
    STARTED.set()
    await asyncio.sleep(GRACE / 10)
    return PlainTextResponse("finished")


async def body(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(len(await request.body())))


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text(text)


APP = Starlette(
    routes=[
        Route("/never", never),
        Route("/finishing", finishing),
        Route("/body", body, methods=["POST"]),
        WebSocketRoute("/ws", echo),
    ]
)


@pytest.mark.parametrize("holds", ["idle", "unfinished-body", "websocket", "never-answered"])
async def test_a_stop_ends_whatever_a_connection_does(holds: str) -> None:
    global STARTED
    STARTED = asyncio.Event()
    server = await Server(APP, log_config=None, shutdown_grace=GRACE).start()
    reader, writer = await asyncio.open_connection(server.host, server.port)
    ws = None
    try:
        if holds == "unfinished-body":
            writer.write(b"POST /body HTTP/1.1\r\nHost: g\r\nContent-Length: 1000\r\n\r\n{")
        elif holds == "never-answered":
            writer.write(b"GET /never HTTP/1.1\r\nHost: g\r\n\r\n")
        await writer.drain()
        if holds == "never-answered":
            await asyncio.wait_for(STARTED.wait(), STOPPED_BY)
        if holds == "websocket":
            ws = await websockets.connect(server.url.replace("http", "ws") + "/ws", open_timeout=60)
            await ws.send("hello")
            assert await ws.recv() == "hello"
        # before: "never-answered" never stopped (uvicorn waits for the request for ever)
        await asyncio.wait_for(server.stop(), STOPPED_BY)
        assert await asyncio.wait_for(reader.read(), STOPPED_BY) is not None  # closed
    finally:
        writer.close()
        if ws is not None:
            await ws.close()


async def test_a_request_that_finishes_within_the_grace_is_answered_whole() -> None:
    global STARTED
    STARTED = asyncio.Event()
    server = await Server(APP, log_config=None, shutdown_grace=STOPPED_BY).start()
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(b"GET /finishing HTTP/1.1\r\nHost: g\r\n\r\n")
        await writer.drain()
        await asyncio.wait_for(STARTED.wait(), STOPPED_BY)
        await asyncio.wait_for(server.stop(), STOPPED_BY)
        answer = await asyncio.wait_for(reader.read(), STOPPED_BY)
        assert answer.startswith(b"HTTP/1.1 200"), answer
        assert answer.endswith(b"finished"), answer
    finally:
        writer.close()


def test_the_grace_is_a_setting_bounded_and_defaulted(monkeypatch: pytest.MonkeyPatch) -> None:
    assert HttpSettings().http_shutdown_grace == DEFAULT_SHUTDOWN_GRACE
    monkeypatch.setenv("GT_HTTP_SHUTDOWN_GRACE", "2.5")
    assert HttpSettings().http_shutdown_grace == 2.5
    for bad in ("0", "-1", "nan", "inf", "soon", "3601"):
        monkeypatch.setenv("GT_HTTP_SHUTDOWN_GRACE", bad)
        with pytest.raises(ValueError, match="http_shutdown_grace"):
            HttpSettings()
