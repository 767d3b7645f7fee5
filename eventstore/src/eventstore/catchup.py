"""Catching up from far behind: read a stream in large unacknowledged batches, then go live.

A runner that starts far behind the head of a stream (a rebuild, a new read-model version,
a long outage) needs none of the durable consumer's per-message bookkeeping: its SQL
checkpoint is the truth, and every batch commits with it. So, up to the head seen at start,
`CatchUpSubscriber` reads with an ordered push consumer that wants no acknowledgements (the
durable one acks every message, a publish each, and pulls each message through a task of its
own), in batches larger than the live ones, decoding the next batch while the handler
applies the current one. Each batch must continue
right after the owner's position; anything else (a gap, an error, a handler that fails) ends
the catch-up, and the durable subscriber takes over from the owner's position, as it would
have from the start. Live delivery is the durable subscriber's, unchanged.

Several runners of one process read the same streams: an envelope is decoded once and its
immutable value shared (`decode_shared`), keyed by its stored bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy

from contracts_schema.envelope import EventEnvelope
from contracts_schema.subjects import BoundedContext
from eventstore.records import StoredEvent
from eventstore.subscription import DurableSubscriber, Handler

log = logging.getLogger(__name__)

# Behind the head by more than this many events at start: catch up first.
CATCH_UP_FROM = 1_000
CATCH_UP_BATCH = 2_000
STALLED = 10.0  # seconds without a batch: leave it to the durable subscriber
PENDING_MSGS = 50_000  # beyond this the client drops messages (the consumer restarts)

_DECODED: dict[bytes, EventEnvelope] = {}
_DECODED_MAX = 20_000


def decode_shared(data: bytes) -> EventEnvelope:
    """The envelope of stored bytes, decoded once for every runner of the process.

    Envelopes are immutable values read by every projection; the cache is bounded and
    simply emptied when full (runners reading the same stream are close to each other).
    """
    envelope = _DECODED.get(data)
    if envelope is None:
        envelope = EventEnvelope.model_validate_json(data)
        if len(_DECODED) >= _DECODED_MAX:
            _DECODED.clear()
        _DECODED[data] = envelope
    return envelope


def _stored(msg: Msg, stream: str) -> StoredEvent:
    traceparent = msg.headers.get("traceparent") if msg.headers else None
    return StoredEvent(
        decode_shared(msg.data), stream, msg.metadata.sequence.stream, msg.subject, traceparent
    )


class CatchUpSubscriber(DurableSubscriber):
    """A `DurableSubscriber` preceded, when far behind, by an unacknowledged bulk read."""

    def __init__(
        self,
        nc: NATS,
        context: BoundedContext,
        durable: str,
        handler: Handler,
        *,
        head: Callable[[], Awaitable[int]],
        position: Callable[[], int],
        batch: int = 256,
        subject_filter: str | None = None,
    ) -> None:
        super().__init__(
            nc,
            context,
            durable,
            handler,
            batch=batch,
            subject_filter=subject_filter,
            position=position,
        )
        self._head = head
        self._owner_position = position
        self._bulk = max(batch, CATCH_UP_BATCH)
        self.caught_up = 0  # events applied by the catch-up read

    async def _run(self) -> None:
        try:
            await self._catch_up()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the durable subscriber goes on from the owner's position
            log.info("catch-up of %s ended early: %s", self._durable, exc)
        await super()._run()

    async def _catch_up(self) -> None:
        head = await self._head()
        if head - self._owner_position() <= CATCH_UP_FROM:
            return
        stream = self._context.stream
        # Two batches ahead at most: a full queue holds up the callback, whose flow-control
        # replies then hold up the server (the push consumer's back pressure).
        ready: asyncio.Queue[list[StoredEvent]] = asyncio.Queue(maxsize=2)
        pending: list[StoredEvent] = []

        async def on_message(msg: Msg) -> None:
            nonlocal pending
            event = _stored(msg, stream)  # decoded here, while the handler applies
            pending.append(event)
            if len(pending) >= self._bulk or event.seq >= head:
                batch, pending = pending, []
                await ready.put(batch)

        # An ordered consumer: no acknowledgements, flow control, gap-free by its own
        # bookkeeping (it restarts itself after a missed message).
        sub = await self._nc.jetstream().subscribe(
            self._filter,
            stream=stream,
            cb=on_message,
            ordered_consumer=True,
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=self._owner_position() + 1,
            ),
            pending_msgs_limit=PENDING_MSGS,
            pending_bytes_limit=512 * 1024 * 1024,
        )
        try:
            while True:
                events = await asyncio.wait_for(ready.get(), STALLED)
                expected = self._owner_position() + 1
                if events[0].seq != expected or events[-1].seq - events[0].seq + 1 != len(events):
                    # Deleted messages or a delivery gone astray: the durable path knows how.
                    raise RuntimeError(f"expected {expected}, got {events[0].seq}..")
                await self._handler(events)
                self.caught_up += len(events)
                if events[-1].seq >= head:
                    return
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
