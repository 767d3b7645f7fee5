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

With `shared` too (every projection runner's subscriber, `eventstore.sources`), the
subscribers of one stream (and filter) in a process share one consumer (`_Feed`): one fetch,
one decode and one acknowledgement per batch, each subscriber handed the events after its
own position, in its own task and at its own pace. The checkpoint of each stays the truth: a
subscriber whose handler fails leaves the feed (the others go on), waits, and joins again
from its position, which re-arms the feed from there (the others pass over what they have).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import secrets
import time
import weakref
from collections.abc import Awaitable, Callable

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from contracts_schema.subjects import BoundedContext
from eventstore.ports import Subscription
from eventstore.store import StoredEvent, decode
from eventstore.tasks import cancel_and_wait

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
        shared: bool = False,
    ) -> None:
        """`shared` (with `position`): take the events from the process's feed of the stream."""
        self._nc = nc
        self._context = context
        self._durable = durable
        self._handler = handler
        self._batch = batch
        self._filter = subject_filter or context.event_subjects
        self._position = position
        self._shared = shared and position is not None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.rearms = 0
        self.gaps = 0  # batches cut because the consumer skipped existing messages

    def share(self) -> DurableSubscriber:
        """From now on (before `start`), as if made `shared`."""
        self._shared = self._position is not None
        return self

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
        if self._shared:
            await self._run_shared()
            return
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
                self.rearms += 1
                name = type(exc).__name__
                log.info("durable %s re-arming after %s: %s", self._durable, name, exc)
                await asyncio.sleep(0.2)

    async def _run_shared(self) -> None:
        """Take this stream's events from the process's feed; after a failure, wait (longer
        each time it fails again at once) and join again from the owner's position."""
        assert self._position is not None
        # Its own consumer of the layout before feeds, if one is left: nobody reads it now.
        with contextlib.suppress(Exception):
            await self._nc.jetstream().delete_consumer(self._context.stream, self._durable)
        failures = 0
        while not self._stopping.is_set():
            feed = _feed(self._nc, self._context, self._filter, self._batch)
            member = feed.join(self._position, self)
            handled = 0
            try:
                while True:
                    events, stamps = await member.next()
                    delivery.set(stamps)
                    await self._handler(events)
                    member.handed_over(events)
                    handled += 1
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # its read model failed (or fell too far behind)
                failures = 1 if handled else failures + 1
                self.rearms += 1
                name = type(exc).__name__
                log.info("durable %s leaves its feed after %s: %s", self._durable, name, exc)
            finally:
                feed.leave(member)
            await asyncio.sleep(min(0.2 * 2 ** (failures - 1), 10.0))

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
        stream = self._context.stream
        events = [
            decode(
                m.subject,
                stream,
                m.metadata.sequence.stream,
                m.data,
                m.headers.get("traceparent") if m.headers else None,
            )
            for m in msgs
        ]
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
        expected = self._position() + 1
        kept: list[Msg] = []
        for m in msgs:
            seq = m.metadata.sequence.stream
            if seq < expected:
                await m.ack()  # a redelivery of something already processed
                continue
            if seq > expected and not await self._nothing_between(expected, seq):
                return kept, DeliveryGap(f"expected sequence {expected}, got {seq}")
            kept.append(m)
            expected = seq + 1
        return kept, None

    async def _nothing_between(self, first: int, found: int) -> bool:
        """True if the stream holds no message for our filter in [first, found)."""
        return await _nothing_between(self._nc, self._context.stream, self._filter, first, found)


# A subscriber whose handler is this many events behind its feed leaves it (and joins again
# from its position): the feed never waits for its slowest reader, nor holds its backlog.
MAX_QUEUED = 10_000
FEED_IDLE_CHECK = 5  # empty fetches (of 1 s) before the feed asks whether deliveries were lost


class FellBehind(Exception):
    """A subscriber had more than MAX_QUEUED events waiting in its feed."""


class _Member:
    """One subscriber of a feed: what was handed to it, and what waits for it."""

    def __init__(self, position: Callable[[], int]) -> None:
        self.handed = position()  # the last sequence given to (or before) this subscriber
        self._queue: asyncio.Queue[tuple[list[StoredEvent], dict[str, float]] | Exception] = (
            asyncio.Queue()
        )
        self.queued = 0  # events waiting
        self.behind = False  # joined behind the feed: nothing for it until the feed re-arms

    def give(self, events: list[StoredEvent], stamps: dict[str, float]) -> None:
        if self.behind:
            return
        fresh = [e for e in events if e.seq > self.handed]
        if not fresh:
            return
        self.handed = fresh[-1].seq
        self.queued += len(fresh)
        if self.queued > MAX_QUEUED:
            self.fail(FellBehind(f"{self.queued} events waiting for it"))
            return
        self._queue.put_nowait((fresh, stamps))

    def fail(self, exc: Exception) -> None:
        self._queue.put_nowait(exc)

    async def next(self) -> tuple[list[StoredEvent], dict[str, float]]:
        """Everything waiting, as one batch (as a consumer of its own would fetch it while its
        handler was busy); the stamps of the latest fetch in it."""
        got = await self._queue.get()
        if isinstance(got, Exception):
            raise got
        events, stamps = got
        while not self._queue.empty():
            more = self._queue.get_nowait()
            if isinstance(more, Exception):
                raise more
            events = events + more[0]
            stamps = more[1]
        return events, stamps

    def handed_over(self, events: list[StoredEvent]) -> None:
        self.queued -= len(events)


class _Feed:
    """One consumer of a stream for every positioned subscriber of it in this process.

    It starts right after the lowest position of its members and hands each batch, decoded
    once, to every member past its own position. A member that joins behind what the feed
    has delivered re-arms it from there. Gaps are handled as `DurableSubscriber` does: the
    consumer is recreated from the members' positions. Acknowledged on receipt (one ack for
    the batch): the members' checkpoints, not acknowledgements, say what was applied, and
    every arm starts from them.
    """

    def __init__(self, nc: NATS, context: BoundedContext, subject_filter: str, batch: int) -> None:
        self._nc = nc
        self._context = context
        self._filter = subject_filter
        self._batch = batch
        # Its own consumer: a second projector process (another part, a replica) has its own.
        self.durable = f"feed_{context.stream}_{secrets.token_hex(6)}"
        self._members: dict[_Member, DurableSubscriber] = {}
        self._task: asyncio.Task[None] | None = None
        self._fetching: asyncio.Future[list[Msg]] | None = None
        self._rearm = False
        self.delivered = 0  # the last sequence the current arm handed out
        self.arms = 0

    def join(self, position: Callable[[], int], subscriber: DurableSubscriber) -> _Member:
        member = _Member(position)
        self._members[member] = subscriber
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"feed-{self.durable}")
        elif member.handed < self.delivered:
            member.behind = True
            self._rearm = True  # behind what was handed out: start again from its position
            if self._fetching is not None:
                self._fetching.cancel()
        return member

    def leave(self, member: _Member) -> None:
        self._members.pop(member, None)
        if not self._members:
            _FEEDS.get(self._nc, {}).pop((self._context.stream, self._filter), None)
            if self._task is not None:
                self._task.cancel()
            asyncio.get_running_loop().create_task(self._delete())

    async def _delete(self) -> None:
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        with contextlib.suppress(Exception):  # the connection may be closed already
            await self._nc.jetstream().delete_consumer(self._context.stream, self.durable)

    async def _run(self) -> None:
        while self._members:
            psub: JetStreamContext.PullSubscription | None = None
            try:
                js: JetStreamContext = self._nc.jetstream()
                with contextlib.suppress(NotFoundError):
                    await js.delete_consumer(self._context.stream, self.durable)
                self._rearm = False
                for member in self._members:
                    member.behind = False
                start = min(m.handed for m in self._members) + 1
                self.delivered = start - 1
                self.arms += 1
                psub = await js.pull_subscribe(
                    self._filter,
                    durable=self.durable,
                    stream=self._context.stream,
                    config=ConsumerConfig(
                        durable_name=self.durable,
                        ack_policy=AckPolicy.ALL,
                        deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                        opt_start_seq=start,
                        filter_subject=self._filter,
                        max_ack_pending=10_000,
                        ack_wait=60,
                        inactive_threshold=120.0,  # a process gone: the server drops it
                    ),
                )
                await self._consume(psub)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise
                # A member joined behind: its fetch was cancelled; arm again.
            except Exception as exc:  # broker restart, reconnect, a gap: re-arm
                for subscriber in self._members.values():
                    subscriber.rearms += 1
                    if isinstance(exc, DeliveryGap):
                        subscriber.gaps += 1
                log.info("feed %s re-arming after %s: %s", self.durable, type(exc).__name__, exc)
                await asyncio.sleep(0.2)
            finally:
                if psub is not None:
                    with contextlib.suppress(Exception):
                        await psub.unsubscribe()

    async def _consume(self, psub: JetStreamContext.PullSubscription) -> None:
        idle = 0
        while self._members and not self._rearm:
            asked = time.time()
            self._fetching = asyncio.ensure_future(psub.fetch(self._batch, timeout=1.0))
            try:
                msgs = await self._fetching
            except TimeoutError:
                idle += 1
                if idle % FEED_IDLE_CHECK == 0:
                    info = await psub.consumer_info()  # raises if the consumer is gone
                    if info.num_ack_pending and not self._rearm:
                        pending = info.num_ack_pending
                        raise DeliveryGap(f"{pending} delivered messages never came") from None
                continue
            finally:
                self._fetching = None
            idle = 0
            stamps = {"asked": asked, "fetched": time.time()}
            msgs, gap = await self._in_order(msgs)
            if msgs:
                await msgs[-1].ack()  # AckPolicy.ALL: the batch
                stream = self._context.stream
                events = [
                    decode(
                        m.subject,
                        stream,
                        m.metadata.sequence.stream,
                        m.data,
                        m.headers.get("traceparent") if m.headers else None,
                    )
                    for m in msgs
                ]
                self.delivered = events[-1].seq
                for member in list(self._members):
                    member.give(events, stamps)
            if gap is not None:
                raise gap

    async def _in_order(self, msgs: list[Msg]) -> tuple[list[Msg], DeliveryGap | None]:
        """The part of a batch that continues right after what was delivered, and the gap."""
        expected = self.delivered + 1
        kept: list[Msg] = []
        for m in msgs:
            seq = m.metadata.sequence.stream
            if seq < expected:
                continue  # a redelivery of something already handed out
            if seq > expected and not await _nothing_between(
                self._nc, self._context.stream, self._filter, expected, seq
            ):
                return kept, DeliveryGap(f"expected sequence {expected}, got {seq}")
            kept.append(m)
            expected = seq + 1
        return kept, None


_FEEDS: weakref.WeakKeyDictionary[NATS, dict[tuple[str, str], _Feed]] = weakref.WeakKeyDictionary()


def _feed(nc: NATS, context: BoundedContext, subject_filter: str, batch: int) -> _Feed:
    """The process's feed of `context`'s stream (filtered so) on this connection."""
    feeds = _FEEDS.setdefault(nc, {})
    key = (context.stream, subject_filter)
    found = feeds.get(key)
    if found is None:
        found = feeds[key] = _Feed(nc, context, subject_filter, batch)
    return found


async def _nothing_between(
    nc: NATS, stream: str, subject_filter: str, first: int, found: int
) -> bool:
    """True if the stream holds no message for the filter in [first, found)."""
    try:
        # Not a direct get: a follower may lag; the stream leader answers this one.
        msg = await nc.jetstream().get_msg(stream, seq=first, subject=subject_filter, next=True)
    except NotFoundError:
        return False
    return msg.seq is not None and msg.seq >= found


_conforms: type[Subscription] = DurableSubscriber
