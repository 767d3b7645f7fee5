"""`eventstore.flushing.flushed`: the server has a subscription before `flushed` returns.

What goes over the socket is read where nats-py writes it (its transport): the order of
the bytes is the property, and no timing is involved.
"""

from __future__ import annotations

from collections.abc import Iterable

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from eventstore.flushing import flushed
from eventstore.testing.fixtures import connect
from eventstore.testing.nats_server import NatsServer


def record_writes(nc: NATS) -> list[bytes]:
    """Every chunk nats-py writes to the connection's socket from now on, in order."""
    written: list[bytes] = []
    transport = nc._transport
    assert transport is not None
    write, writelines = transport.write, transport.writelines

    def write_one(data: bytes) -> None:
        written.append(bytes(data))
        write(data)

    def write_many(chunks: Iterable[bytes]) -> None:
        chunks = list(chunks)
        written.extend(bytes(c) for c in chunks)
        writelines(chunks)

    transport.write = write_one  # type: ignore[method-assign]
    transport.writelines = write_many  # type: ignore[method-assign]
    return written


async def ignore(_msg: Msg) -> None:
    return None


def positions(written: list[bytes], prefix: bytes) -> list[int]:
    return [i for i, chunk in enumerate(written) if chunk.startswith(prefix)]


async def test_a_plain_flush_may_send_its_ping_ahead_of_a_queued_subscription(
    nats_server: NatsServer,
) -> None:
    """Why `flushed` exists; when nats-py orders its PING behind queued commands this test
    fails, and `flushed` can become a plain `flush`."""
    nc = await connect(nats_server.url)
    try:
        written = record_writes(nc)
        await nc.subscribe("flushing.plain", queue="q", cb=ignore)
        await nc.flush()
        assert positions(written, b"PING")[0] < positions(written, b"SUB flushing.plain")[0]
    finally:
        await nc.close()


async def test_flushed_sends_a_ping_after_every_queued_command(nats_server: NatsServer) -> None:
    nc = await connect(nats_server.url)
    try:
        written = record_writes(nc)
        for n in range(16):
            await nc.subscribe(f"flushing.ours.{n}", queue=f"q{n}", cb=ignore)
        await nc.publish("flushing.hello", b"hello")
        await flushed(nc)
        last_command = max(positions(written, b"SUB ") + positions(written, b"PUB "))
        assert positions(written, b"PING")[-1] > last_command
    finally:
        await nc.close()
