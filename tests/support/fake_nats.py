"""A loopback server that speaks just enough NATS for a client to connect (INFO, then a PONG
to each PING), whose first connection misbehaves as a test asks: answered only after a delay
(a server slow under load), or closed before a word (a failed try)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass
class FakeNats:
    first_delay: float = 0.0  # seconds before the first connection's INFO
    first_hangs_up: bool = False  # the first connection closed before a word
    url: str = ""
    accepted: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        first = self.accepted == 1
        try:
            if first and self.first_hangs_up:
                return
            if first and self.first_delay:
                await asyncio.sleep(self.first_delay)
            info = {"server_id": "fake", "version": "2.10.0", "proto": 1, "max_payload": 1 << 20}
            writer.write(f"INFO {json.dumps(info)}\r\n".encode())
            await writer.drain()
            while line := await reader.readline():
                if line.startswith(b"PING"):
                    writer.write(b"PONG\r\n")
                    await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def fake_nats(
    *, first_delay: float = 0.0, first_hangs_up: bool = False
) -> AsyncIterator[FakeNats]:
    """The server, listening on a free loopback port; every session ended when it closes."""
    state = FakeNats(first_delay=first_delay, first_hangs_up=first_hangs_up)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        state.tasks.add(task)
        try:
            await state.session(reader, writer)
        finally:
            state.tasks.discard(task)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    state.url = f"nats://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        yield state
    finally:
        server.close()
        for task in list(state.tasks):
            task.cancel()
        await asyncio.gather(*state.tasks, return_exceptions=True)
        await server.wait_closed()
