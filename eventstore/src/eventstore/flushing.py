"""Until the server has everything a connection sent so far: nats-py's `flush` is not that.

nats-py (2.16) queues SUB and PUB commands for its flusher task but writes `flush`'s PING to
the socket at once, so a PING can overtake the commands queued just before it: the PONG then
comes back before the server has seen them. A subscription "flushed" that way may not exist
yet when another connection publishes next; the server drops a plain publish to it and answers
a request with no responders (seen under CPU load in the partition drain test and the group
import test; the write order is shown in `tests/integration/test_flushing.py`).

Every command queued before the first PING has already woken the flusher, which writes it while
that PING's answer is awaited, so a second PING goes out after it and its PONG means the server
has it.

And `flush(timeout)` must not be what waits for a PONG with a deadline: on its timeout nats-py
cancels the PONG's future but leaves it in its queue, and a PONG that comes after (a broker or
link that stalled for longer than the deadline) is set on the cancelled future: the
`InvalidStateError` ends the connection's reader, and nothing more is received on it until
the stale-connection check reconnects, minutes later (review18 #1). `pong` waits on a future
of its own that its deadline leaves uncancelled, so a late PONG completes it harmlessly.
"""

from __future__ import annotations

import asyncio

import nats.errors
from nats.aio.client import Client as NATS

FLUSH_TIMEOUT = 10  # seconds, nats-py's default


async def pong(nc: NATS, timeout: float) -> bool:
    """True once the server has answered a PING sent now (everything it wrote to this
    connection before the PONG has been read by then); False if no PONG came within
    `timeout` s or the connection cannot send one now (reconnecting)."""
    if nc.is_closed:
        raise nats.errors.ConnectionClosedError
    answered: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    try:
        # nats-py's own PING (as `flush` sends it): its reader completes `answered` in order.
        await nc._send_ping(answered)
    except Exception:  # no transport while it reconnects
        return False
    try:
        # The shield: our deadline cancels the wait, never the future nats-py completes.
        await asyncio.wait_for(asyncio.shield(answered), timeout)
    except TimeoutError:
        return False
    return True


async def flushed(nc: NATS, timeout: int = FLUSH_TIMEOUT) -> None:
    """Wait until the server has processed every command this connection sent before."""
    for _ in range(2):  # the first PING's wait lets the flusher write what was queued before
        if not await pong(nc, timeout):
            raise nats.errors.FlushTimeoutError


def queue_publish(nc: NATS, subject: str, reply: str, payload: bytes) -> None:
    """What `nc.publish(subject, payload, reply=reply)` does, without its coroutine: the PUB
    queued on the connection for its flusher (kicked if idle), as nats-py queues it, from a
    plain function (a loop callback; no task, no coroutine step). For small messages of our
    own on subjects we make: no subject check, no header. Unlike `publish` it does not wait
    for the flusher when the pending buffer is over `max_pending_size` while connected (it
    cannot wait; our callers' messages are small and bounded by the commands in flight).
    Raises as `publish` does on a payload over the server's `max_payload` (sent, the server
    would drop the whole connection), a closed or draining connection, or while it reconnects
    with no room to buffer."""
    if nc.is_closed:
        raise nats.errors.ConnectionClosedError
    if nc.is_draining_pubs:
        raise nats.errors.ConnectionDrainingError
    if len(payload) > nc.max_payload:
        raise nats.errors.MaxPayloadError
    command = b"".join(
        (b"PUB ", subject.encode(), b" ", reply.encode(), b" %d\r\n" % len(payload), payload)
    )
    command += b"\r\n"
    if not nc.is_connected and (
        nc._max_pending_size <= 0 or len(command) + nc._pending_data_size > nc._max_pending_size
    ):
        raise nats.errors.OutboundBufferLimitError
    nc._pending.append(command)
    nc._pending_data_size += len(command)
    nc.stats["out_msgs"] += 1
    nc.stats["out_bytes"] += len(payload)
    kick, flusher, transport = nc._flush_queue, nc._flusher_task, nc._transport
    # As `publish` kicks it: once per batch of queued commands, or written at once if the
    # flusher is gone; while reconnecting, nats-py writes what is pending once connected.
    if not nc.is_connected or kick is None or transport is None or not kick.empty():
        return
    if flusher is None or flusher.done():
        transport.writelines(nc._pending[:])
        nc._pending = []
        nc._pending_data_size = 0
        return
    kick.put_nowait(asyncio.get_running_loop().create_future())
