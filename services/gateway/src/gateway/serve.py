"""Run the ASGI app on uvicorn inside the current event loop (embedded system and tests)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn
from starlette.applications import Starlette

from gateway.deadline import DEFAULT_DEADLINE, with_deadline

# Seconds a stop waits for the requests being answered before it cancels them. uvicorn's
# default waits for ever: one request that never ends (a client holding a slow answer open, a
# resolver stuck on a dead connection) held `make run`'s Ctrl-C and a container's stop until
# it was killed, skipping the rest of the shutdown (the read side, NATS). Idle keep-alive
# connections and websockets are closed at once either way.
DEFAULT_SHUTDOWN_GRACE = 10.0


class _EmbeddedUvicorn(uvicorn.Server):
    # The host process owns the signals: uvicorn would capture Ctrl-C and re-raise it on exit.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def listening_socket(
    host: str = "127.0.0.1", port: int = 0, *, reuse_port: bool = False
) -> socket.socket:
    """A TCP socket bound to `host:port` (0: any free port), to serve on. `reuse_port`: one of
    several sockets on the same port, one per worker process (`worker_sockets`)."""
    # IPPROTO_TCP spelt out: asyncio sets TCP_NODELAY only on sockets whose `proto` says
    # TCP, and an accepted connection inherits the listener's 0. Without it every
    # response written in two parts (head, then body) waited ~40 ms for the client's
    # delayed ACK (Nagle): the whole of a fast GraphQL request's latency.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def worker_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """`count` sockets on one port (0: any free port), one per worker process: the kernel
    hands each new connection to one of them by a hash of its addresses (SO_REUSEPORT).

    Not one socket shared by the workers: there every worker's loop wakes for a new
    connection and the first to run accepts every connection waiting, so a client opening
    its connections at once (a proxy's pool, wrk's 16) found nearly all of them on one worker
    while the other idled (the benchmark saw 14 of 16, and 2 workers no faster than 1)."""
    if count == 1:
        return [listening_socket(host, port)]  # no group: nobody may join this port
    # A port in use is refused as without SO_REUSEPORT (a second gateway on it fails to start
    # instead of silently taking part of its connections): first bound plainly, then given up
    # to the group. (A process of the same user that sets SO_REUSEPORT itself can still join.)
    probe = listening_socket(host, port)
    port = probe.getsockname()[1]
    probe.close()
    sockets = [listening_socket(host, port, reuse_port=True)]
    try:
        while len(sockets) < count:
            sockets.append(listening_socket(host, sockets[0].getsockname()[1], reuse_port=True))
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


class Server:
    def __init__(
        self,
        app: Starlette,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        log_config: dict[str, Any] | None = uvicorn.config.LOGGING_CONFIG,
        sock: socket.socket | None = None,
        request_deadline: float = DEFAULT_DEADLINE,
        shutdown_grace: float = DEFAULT_SHUTDOWN_GRACE,
    ) -> None:
        """`log_config=None`: uvicorn's loggers propagate to the process's (JSON) handlers.
        `sock`: serve on this bound socket (see `listening_socket`) instead of host:port.
        `request_deadline`: seconds for each request to arrive whole (`gateway.deadline`).
        `shutdown_grace`: seconds `stop` lets requests being answered finish; then they are
        cancelled (GT_HTTP_SHUTDOWN_GRACE)."""
        self._sock = sock if sock is not None else listening_socket(host, port)
        self.host, self.port = self._sock.getsockname()[:2]
        config = uvicorn.Config(
            app,
            log_level="warning",
            ws="websockets-sansio",
            lifespan="off",
            ws_ping_interval=20,
            log_config=log_config,
            http=with_deadline(request_deadline),
            # Typed int by uvicorn, used as asyncio.wait_for's timeout: seconds as a float.
            timeout_graceful_shutdown=shutdown_grace,  # type: ignore[arg-type]
        )
        self._server = _EmbeddedUvicorn(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> Server:
        self._task = asyncio.create_task(self._server.serve(sockets=[self._sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        return self

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task
        self._sock.close()
