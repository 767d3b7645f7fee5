"""A durable JetStream consumer that keeps going across reconnects and server restarts.

nats-py pull subscriptions can silently stop after a reconnect, so the loop re-arms the
subscription on any error instead of trusting it. Messages are handed over one at a time
in stream order; a message is acked only after its handler returned.

With `position` (the last stream sequence its owner has durably processed, e.g. a SQL
checkpoint) the subscriber also guarantees gap-free delivery. A message the server sent
can be lost on the way: into a connection to a node that was just killed, or into the inbox
of a pull subscription abandoned by a re-arm. The server then sees it pending and redelivers
it only after `ack_wait`, behind later messages; a checkpointing owner would already have
moved past it and skip it for good. So in this mode every arm (re)creates the consumer right
after `position`, events at or below it are dropped, and a batch that does not continue
right after it is cut at the gap (unless the stream holds nothing matching in between:
deleted messages) and the consumer is recreated from the owner's position.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import time
from collections.abc import Awaitable, Callable

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from contracts_schema.subjects import BoundedContext
from eventstore.ports import Subscription
from eventstore.store import StoredEvent
from eventstore.tasks import cancel_and_wait
from eventstore.trust import read_event, trust_of

log = logging.getLogger(__name__)

Handler = Callable[[list[StoredEvent]], Awaitable[None]]

# When the batch being handled was asked for and when it came (wall clock), for a handler
# that reports where an event's time went (`ProjectionRunner`'s announced stages): "asked"
# after the event was stored means the subscriber was busy with the batch before.
delivery: contextvars.ContextVar[dict[str, float] | None] = contextvars.ContextVar(
    "delivery", default=None
)


class DeliveryGap(Exception):
    """The consumer skipped stream sequences that exist: recreate it from the position."""


def read_batch(
    nc: NATS, context: BoundedContext, msgs: list[Msg], sequence_of: Callable[[Msg], int]
) -> list[StoredEvent]:
    """A delivered batch as stored events, each judged by the connection's trust; never
    raising: what may not be taken as fact comes marked (parked)."""
    stream = context.stream
    trust = trust_of(nc)
    return [
        read_event(
            trust,
            m.subject,
            stream,
            sequence_of(m),
            m.data,
            m.headers.get("traceparent") if m.headers else None,
        )
        for m in msgs
    ]


def _metadata_sequence(msg: Msg) -> int:
    return msg.metadata.sequence.stream


class DurableSubscriber:
    def __init__(
        self,
        nc: NATS,
        context: BoundedContext,
        durable: str,
        handler: Handler,
        *,
        batch: int = 256,
        subject_filter: str | None = None,
        position: Callable[[], int] | None = None,
    ) -> None:
        self._nc = nc
        self._context = context
        self._durable = durable
        self._handler = handler
        self._batch = batch
        self._filter = subject_filter or context.event_subjects
        self._position = position
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.rearms = 0
        self.gaps = 0  # batches cut because the consumer skipped existing messages

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"durable-{self._durable}")

    async def stop(self) -> None:
        self._stopping.set()
        await cancel_and_wait(self._task)

    def _config(self) -> ConsumerConfig:
        if self._position is not None:
            return ConsumerConfig(
                durable_name=self._durable,
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=self._position() + 1,
                filter_subject=self._filter,
                max_ack_pending=10_000,
                ack_wait=60,
            )
        return ConsumerConfig(
            durable_name=self._durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            filter_subject=self._filter,
            max_ack_pending=10_000,
            ack_wait=60,
        )

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                js: JetStreamContext = self._nc.jetstream()
                if self._position is not None:
                    # The owner's position is the truth: start the consumer right after it.
                    with contextlib.suppress(NotFoundError):
                        await js.delete_consumer(self._context.stream, self._durable)
                psub = await js.pull_subscribe(
                    self._filter,
                    durable=self._durable,
                    stream=self._context.stream,
                    config=self._config(),
                )
                await self._consume(psub)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker restart, reconnect, stale subscription: re-arm
                await self._rearming(exc)

    async def _rearming(self, exc: Exception) -> None:
        """Count and say why the consumer is armed again, after a short pause."""
        self.rearms += 1
        name = type(exc).__name__
        log.info("durable %s re-arming after %s: %s", self._durable, name, exc)
        await asyncio.sleep(0.2)

    async def _consume(self, psub: JetStreamContext.PullSubscription) -> None:
        idle = 0
        while not self._stopping.is_set():
            asked = time.time()
            try:
                msgs = await psub.fetch(self._batch, timeout=1.0)
            except TimeoutError:  # nats-py raises its own TimeoutError or asyncio's, by path
                idle += 1
                if idle % 5 == 0:
                    # Proves the consumer still exists (raises if not). Idle while messages
                    # are pending acknowledgement: they went astray on the way to us.
                    info = await psub.consumer_info()
                    if self._position is not None and info.num_ack_pending:
                        pending = info.num_ack_pending
                        raise DeliveryGap(f"{pending} delivered messages never came") from None
                continue
            idle = 0
            delivery.set({"asked": asked, "fetched": time.time()})
            gap: DeliveryGap | None = None
            if self._position is not None:
                msgs, gap = await self._in_order(msgs)
            if msgs:
                await self._handle(msgs)
            if gap is not None:
                self.gaps += 1
                raise gap

    async def _handle(self, msgs: list[Msg]) -> None:
        events = read_batch(self._nc, self._context, msgs, _metadata_sequence)
        try:
            await self._handler(events)
        except Exception:
            # Hand the batch back now: left unacked it would return only after ack_wait,
            # behind later messages.
            for m in msgs:
                await m.nak()
            raise
        for m in msgs:
            await m.ack()

    async def _in_order(self, msgs: list[Msg]) -> tuple[list[Msg], DeliveryGap | None]:
        """The part of a batch that continues right after the position, and the gap if any."""
        assert self._position is not None

        async def acked(m: Msg) -> None:
            await m.ack()  # a redelivery of something already processed

        return await in_order(
            msgs,
            self._position() + 1,
            lambda m: m.metadata.sequence.stream,
            functools.partial(nothing_between, self._nc, self._context.stream, self._filter),
            acked,
        )


async def in_order(
    msgs: list[Msg],
    expected: int,
    sequence: Callable[[Msg], int],
    nothing_between: Callable[[int, int], Awaitable[bool]],
    redelivered: Callable[[Msg], Awaitable[None]] | None = None,
) -> tuple[list[Msg], DeliveryGap | None]:
    """The part of a batch that continues right after `expected - 1` (the owner's position),
    and the gap if any: earlier sequences are redeliveries of what was processed (handed to
    `redelivered`), a later one is a gap unless the stream holds nothing matching between."""
    kept: list[Msg] = []
    for m in msgs:
        seq = sequence(m)
        if seq < expected:
            if redelivered is not None:
                await redelivered(m)
            continue
        if seq > expected and not await nothing_between(expected, seq):
            return kept, DeliveryGap(f"expected sequence {expected}, got {seq}")
        kept.append(m)
        expected = seq + 1
    return kept, None


async def nothing_between(
    nc: NATS, stream: str, subject_filter: str, first: int, found: int
) -> bool:
    """True if `stream` holds no message for `subject_filter` in [first, found)."""
    try:
        # Not a direct get: a follower may lag; the stream leader answers this one.
        msg = await nc.jetstream().get_msg(stream, seq=first, subject=subject_filter, next=True)
    except NotFoundError:
        return False
    return msg.seq is not None and msg.seq >= found


_conforms: type[Subscription] = DurableSubscriber
