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
"""

from __future__ import annotations

from nats.aio.client import Client as NATS

FLUSH_TIMEOUT = 10  # seconds, nats-py's default


async def flushed(nc: NATS, timeout: int = FLUSH_TIMEOUT) -> None:
    """Wait until the server has processed every command this connection sent before."""
    await nc.flush(timeout)  # the flusher writes what was queued while this PING is answered
    await nc.flush(timeout)  # this PING follows it: its PONG means the server has it all
