"""A PONG that comes after its deadline does not stop the connection's reader (review18 #1).

`inbox.caught_up` (a timer that fell due asks for a PONG before it decides nothing came) and
`flushing.flushed` waited for a PONG with nats-py's `flush(timeout)`: on its timeout nats-py
cancels the PONG's future but leaves it queued, and a PONG that comes after is set on the
cancelled future: `InvalidStateError` ends the reader, and the connection receives nothing
more until the stale-connection check reconnects, minutes later. Here the server is paused
(SIGSTOP) past the deadline, so its PONG comes late, as from a broker or link that stalls.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import nats
import nats.errors
import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from eventstore import inbox
from eventstore.flushing import flushed, pong
from eventstore.testing.nats_server import NatsServer

pytestmark = pytest.mark.jetstream

DEADLINE = 0.3  # the wait's own deadline; the server answers after PAUSED


@pytest.fixture
def server(tmp_path: Path) -> Iterator[NatsServer]:
    # Its own server: a paused one must not be another test's.
    started = NatsServer(tmp_path / "jetstream").start()
    try:
        yield started
    finally:
        started.stop()


def _pid(server: NatsServer) -> int:
    assert server._process is not None
    return server._process.pid


def _paused(pid: int) -> None:
    """SIGSTOP, then until the kernel shows the server stopped (`kill` returns once the
    signal is queued; the test's premise is a server that cannot answer)."""
    os.kill(pid, signal.SIGSTOP)
    for _ in range(200):
        with open(f"/proc/{pid}/stat") as stat:
            if stat.read().rsplit(")", 1)[1].split()[0] == "T":
                return
        time.sleep(0.05)
    raise AssertionError(f"nats-server {pid} did not stop")


async def _received_after_a_late_pong(
    server: NatsServer, wait: Callable[[NATS], Awaitable[object]], paused: float
) -> list[bytes]:
    """Pause the server, run `wait` (which gives up on its PONG before the server runs
    again), let the late PONG come, then publish to a subscription of this connection: what
    it received."""
    nc = await nats.connect(server.url, allow_reconnect=False)
    got: list[bytes] = []

    async def take(msg: Msg) -> None:
        got.append(msg.data)

    try:
        await nc.subscribe("late.pong", cb=take)
        await flushed(nc)
        pid = _pid(server)
        _paused(pid)
        asyncio.get_running_loop().call_later(paused, os.kill, pid, signal.SIGCONT)
        try:
            await wait(nc)
        finally:
            await asyncio.sleep(paused + 0.5)  # the server runs again: its late PONG comes
            os.kill(pid, signal.SIGCONT)
        await nc.publish("late.pong", b"after")
        await asyncio.wait_for(flushed(nc), 10)  # our publish and its delivery are read
        for _ in range(50):
            if got:
                break
            await asyncio.sleep(0.05)
        return got
    finally:
        await nc.close()


async def test_a_pong_after_caught_ups_grace_leaves_the_connection_reading(
    server: NatsServer,
) -> None:
    # caught_up returns after LATE_REPLY_GRACE without a PONG; the PONG comes after that.
    got = await _received_after_a_late_pong(
        server, inbox.caught_up, paused=inbox.LATE_REPLY_GRACE + 1.0
    )
    assert got == [b"after"]


async def test_a_flush_that_timed_out_leaves_the_connection_reading(server: NatsServer) -> None:
    async def flush_gives_up(nc: NATS) -> None:
        with pytest.raises(nats.errors.FlushTimeoutError):
            await flushed(nc, timeout=DEADLINE)  # type: ignore[arg-type]

    got = await _received_after_a_late_pong(server, flush_gives_up, paused=DEADLINE + 1.0)
    assert got == [b"after"]


async def test_pong_says_whether_the_server_answered_in_time(server: NatsServer) -> None:
    nc = await nats.connect(server.url, allow_reconnect=False)
    try:
        assert await pong(nc, 5) is True
        pid = _pid(server)
        _paused(pid)
        try:
            assert await pong(nc, DEADLINE) is False
        finally:
            os.kill(pid, signal.SIGCONT)
        assert await pong(nc, 5) is True  # the late PONG of the first wait did not break it
    finally:
        await nc.close()
    with pytest.raises(nats.errors.ConnectionClosedError):
        await pong(nc, 1)
