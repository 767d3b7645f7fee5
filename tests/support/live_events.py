"""Wait until a live subscription listens before writing the event it is to see.

The gateway's live events (`gateway.live`) start each stream's ordered consumer with
`DeliverPolicy.NEW` when it handles the client's `subscribe`: an event written before that
consumer exists is never streamed to it. The tests slept 0.2-0.3 s after `subscribe` and hoped
the consumer was there by then; on a loaded machine it was not, the event was missed and the
test waited out its 30 s for a message that could not come. Here the test waits for the
consumer itself: a consumer on the stream that was not there before the `subscribe` and
starts at new messages (the read models' consumers start at a sequence).
"""

from __future__ import annotations

import asyncio

from nats.aio.client import Client as NATS
from nats.js.api import DeliverPolicy

PATIENCE = 120.0  # seconds: a bound against a hang, not a timing


async def consumer_names(nc: NATS, stream: str) -> set[str]:
    return {c.name for c in await nc.jetstream().consumers_info(stream)}


async def until_listening(
    nc: NATS, stream: str, before: set[str], patience: float = PATIENCE
) -> None:
    """Return once `stream` has a consumer starting at new messages that `before` lacks."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    while True:
        for info in await nc.jetstream().consumers_info(stream):
            if info.name not in before and info.config.deliver_policy == DeliverPolicy.NEW:
                return
        assert loop.time() < deadline, f"no live consumer on {stream} within {patience:g} s"
        await asyncio.sleep(0.02)
