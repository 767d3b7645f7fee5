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
