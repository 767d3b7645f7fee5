"""The test harness's nats-server: the production launcher, plus what only tests need."""

from __future__ import annotations

import asyncio
import time

from eventstore.nats_launcher import NatsServer, free_port, nats_server_binary, watchdog

__all__ = ["NatsServer", "free_port", "nats_server_binary", "wait_jetstream_ready", "watchdog"]


async def wait_jetstream_ready(nc: object, stream: str, timeout: float = 15.0) -> None:
    """After a (re)start, wait until the client is connected and the stream answers."""
    deadline = time.monotonic() + timeout
    js = nc.jetstream()  # type: ignore[attr-defined]
    while True:
        try:
            if nc.is_connected:  # type: ignore[attr-defined]
                await js.stream_info(stream)
                return
        except Exception:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise TimeoutError("JetStream did not become ready")
        await asyncio.sleep(0.1)
