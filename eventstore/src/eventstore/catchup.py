"""Catching up from far behind: read a stream in large unacknowledged ranges, then go live.

A runner that starts far behind the head of a stream (a rebuild, a new read-model version,
a long outage) needs none of the durable consumer's per-message bookkeeping: its SQL
checkpoint is the truth, and every batch commits with it. So, up to the head seen at start,
`CatchUpSubscriber` reads fixed ranges of `CATCH_UP_BATCH` events, each with one pull request
on a consumer of its own that wants no acknowledgements (the durable consumer acks every
message, a publish each, and nats-py's `fetch` makes a task per message); the next range is
read and decoded while the handler applies the current one. The ranges are shared by every
catching-up runner of the process (`_StreamTap`): one read and one decode per event, however
many read models read the stream, and no runner ever waits for another. Each batch must
continue right after the owner's position; anything else (a gap, an error, a handler that
fails) ends that runner's catch-up, and its durable subscriber takes over from the owner's
position, as it would have from the start. Live delivery is the durable subscriber's,
unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import weakref
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from contracts_schema.subjects import BoundedContext
from eventstore.collector import relaxed_for_catch_up
from eventstore.live_pull import LivePull, stream_sequence
from eventstore.records import StoredEvent
from eventstore.subscription import DurableSubscriber, Handler, read_batch
from eventstore.trust import Delivered, Trust, read_range, trust_of

log = logging.getLogger(__name__)

# Behind the head by more than this many events at start: catch up first.
CATCH_UP_FROM = 1_000
CATCH_UP_BATCH = 2_000
STALLED = 10.0  # seconds without a batch: leave it to the durable subscriber


def _delivered(msg: Msg) -> Delivered:
    traceparent = msg.headers.get("traceparent") if msg.headers else None
    return msg.subject, stream_sequence(msg), msg.data, traceparent


# Where a range is checked and decoded once read: off the event loop (which hands batches to
# the runners meanwhile), its verifies beside the runners' applies (the C call releases the
# GIL). One thread a stream read at once (a read-ahead each).
_JUDGING = ThreadPoolExecutor(max_workers=2, thread_name_prefix="catch-up-trust")


def _judging_afresh() -> None:
    """A forked process (a rebuild's group, `eventstore.split_rebuild`) has none of its
    parent's threads: work handed to the inherited pool, whose threads it believes started,
    would wait forever."""
    global _JUDGING
    _JUDGING = ThreadPoolExecutor(max_workers=2, thread_name_prefix="catch-up-trust")


os.register_at_fork(after_in_child=_judging_afresh)


async def _judged(trust: Trust, stream: str, delivered: list[Delivered]) -> list[StoredEvent]:
    # Refused events come marked, never raise; one verify per hash chain of the range.
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_JUDGING, read_range, trust, stream, delivered)


class CatchUpSubscriber(DurableSubscriber):
    """A `DurableSubscriber` preceded, when far behind, by an unacknowledged bulk read, and
    live delivered through one lingering pull request (`eventstore.live_pull`)."""

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
        self.catch_up_ended = asyncio.Event()  # set once the bulk read is over (or skipped)

    async def _run(self) -> None:
        try:
            await self._catch_up()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the durable subscriber goes on from the owner's position
            log.info("catch-up of %s ended early: %s", self._durable, exc)
        self.catch_up_ended.set()
        await self._live()

    async def _live(self) -> None:
        """As `DurableSubscriber._run` with a position, each arm a `LivePull`."""
        while not self._stopping.is_set():
            pull = LivePull(
                self._nc,
                self._context,
                self._durable,
                self._filter,
                self._batch,
                self._owner_position,
            )
            try:
                await pull.arm()
                while not self._stopping.is_set():
                    msgs = await pull.next_batch()
                    kept, gap = await pull.in_order(msgs)
                    if kept:
                        await self._handle_live(kept)
                    elif msgs and gap is None:
                        await msgs[-1].ack()  # redeliveries of what was processed
                    if gap is not None:
                        self.gaps += 1
                        raise gap
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker restart, reconnect, a gap: re-arm from the position
                await self._rearming(exc)
            finally:
                await pull.close()

    async def _handle_live(self, msgs: list[Msg]) -> None:
        events = read_batch(self._nc, self._context, msgs, stream_sequence)
        # A handler that fails re-arms the consumer from the owner's position (no nak
        # needed: the consumer is recreated right after what was committed).
        await self._handler(events)
        await msgs[-1].ack()  # cumulative (`AckPolicy.ALL`): the whole batch

    async def _catch_up(self) -> None:
        head = await self._head()
        if head - self._owner_position() <= CATCH_UP_FROM:
            return
        tap = _tap(self._nc, self._context.stream, self._filter)
        tap.join(self, self._owner_position())
        try:
            with relaxed_for_catch_up(head - self._owner_position()):
                while (position := self._owner_position()) < head:
                    events = await tap.after(position, head, self)
                    await self._handler(events)
                    self.caught_up += len(events)
        finally:
            tap.leave(self)  # the last one out: no ranges kept in memory
        log.debug("catch-up of %s: %d events", self._durable, self.caught_up)


class _StreamTap:
    """One stream's events in fixed ranges of `CATCH_UP_BATCH`, each read (and decoded) once
    for every catching-up runner of the process that needs it.

    A range is read by whichever runner needs it first and kept while a few ranges around
    it are. A runner stays within `LEAD` ranges of the slowest one, so that what it read is
    still kept when the slowest asks: without that bound the runners drift apart as the
    history grows (the cheaper read models race ahead) and past ~50k events of a stream each
    runner read and decoded the stream alone (the broker serving every range again). The
    wait is bounded: after `STALLED` seconds without the slowest moving, a runner goes on
    alone (and a lagging one reads an evicted range again). A runner whose batch fails
    simply stops asking. Ranges are read ahead of the runner that asks, one at a time.
    """

    KEPT = 8  # ranges in memory at once
    LEAD = KEPT - 2  # a runner's range and its read-ahead stay within the kept ones

    def __init__(self, nc: NATS, stream: str, subject_filter: str) -> None:
        self._nc = nc
        self._stream = stream
        self._filter = subject_filter
        self._ranges: dict[int, asyncio.Task[list[StoredEvent]]] = {}
        self._at: dict[object, int] = {}  # the range each runner catching up asks for now
        self._moved = asyncio.Event()  # set (and replaced) whenever a runner moves or leaves

    @property
    def members(self) -> int:
        return len(self._at)

    def join(self, member: object, position: int) -> None:
        self._at[member] = position // CATCH_UP_BATCH

    def leave(self, member: object) -> None:
        self._at.pop(member, None)
        self._wake()
        if not self._at:
            self.forget()

    def forget(self) -> None:
        self._ranges.clear()  # a read under way finishes on its own, unheard

    def _wake(self) -> None:
        self._moved.set()
        self._moved = asyncio.Event()

    async def _within_lead(self, index: int) -> None:
        """Wait, boundedly, until the slowest runner is at most `LEAD` ranges behind."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STALLED
        while self._at and index - min(self._at.values()) > self.LEAD:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return  # the slowest is not moving: go on alone
            try:
                await asyncio.wait_for(self._moved.wait(), remaining)
            except TimeoutError:
                return

    async def after(
        self, position: int, head: int, member: object | None = None
    ) -> list[StoredEvent]:
        """The events right after `position` up to the end of its range (or `head`)."""
        index = position // CATCH_UP_BATCH
        if member is not None:
            if self._at.get(member) != index:
                self._at[member] = index
                self._wake()
            await self._within_lead(index)
        # Shielded: a runner that stops must not cancel a read other runners wait for.
        events = await asyncio.shield(self._range(index, head))
        if (index + 1) * CATCH_UP_BATCH < head:
            self._range(index + 1, head)  # read ahead while this batch applies
        kept = [e for e in events if e.seq > position]
        if not kept or kept[0].seq != position + 1:
            # The range was read before the stream reached this position, or there is a
            # gap (deleted messages): the durable subscriber knows how to go on.
            raise RuntimeError(f"no events right after {position} in range {index}")
        if kept[-1].seq - kept[0].seq + 1 != len(kept):
            raise RuntimeError(f"a gap in range {index} after {position}")
        return kept

    def _range(self, index: int, head: int) -> asyncio.Task[list[StoredEvent]]:
        task = self._ranges.get(index)
        if task is None or (task.done() and (task.cancelled() or task.exception())):
            task = asyncio.create_task(self._read(index, head))
            task.add_done_callback(_heard)  # a read-ahead nobody awaited may fail unheard
            self._ranges[index] = task
            while len(self._ranges) > self.KEPT:  # the oldest first out
                oldest = min(self._ranges)
                if oldest == index:
                    break
                self._ranges.pop(oldest)
        return task

    async def _read(self, index: int, head: int) -> list[StoredEvent]:
        delivered = await self._fetch(index, head)
        return await _judged(trust_of(self._nc), self._stream, delivered)  # once, for all

    async def _fetch(self, index: int, head: int) -> list[Delivered]:
        """The range's messages as stored, unchecked (`eventstore.shared_read` hands them,
        judged once, to a sibling process's taps)."""
        first = index * CATCH_UP_BATCH + 1
        count = min(CATCH_UP_BATCH, head - first + 1)
        delivered: list[Delivered] = []
        loop = asyncio.get_running_loop()
        asked = loop.create_future()  # the current pull request answered, or the range whole
        inbox = self._nc.new_inbox()
        reply = f"{inbox}.0"  # each pull request its own reply subject (below)

        async def on_message(msg: Msg) -> None:
            if msg.headers and msg.headers.get("Status"):  # 404/408: nothing (more) there
                # Only the current request's end counts: a late 408 of the one before must
                # not end a request that has just begun (review16).
                if msg.subject == reply and not asked.done():
                    asked.set_result(msg.headers.get("Status"))
                return
            if len(delivered) < count:
                delivered.append(_delivered(msg))
            if len(delivered) >= count and not asked.done():
                asked.set_result(None)

        # A consumer of this range alone, wanting no acknowledgements; one pull request for
        # the rest of the range, its messages handed to a plain callback (no task per message).
        js = self._nc.jetstream()
        info = await js.add_consumer(
            self._stream,
            ConsumerConfig(
                ack_policy=AckPolicy.NONE,
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=first,
                filter_subject=self._filter,
                inactive_threshold=STALLED * 6,
            ),
        )
        sub = await self._nc.subscribe(f"{inbox}.*", cb=on_message, pending_msgs_limit=4 * count)
        try:
            # Stalled means no message for STALLED seconds, not a slow range: on a loaded
            # machine a range may take longer than that to arrive while it keeps coming, and
            # giving up then would hand the whole catch-up to the one-batch-at-a-time path.
            requests = 0
            while len(delivered) < count:
                before = len(delivered)
                if asked.done():
                    asked = loop.create_future()
                reply = f"{inbox}.{requests}"
                requests += 1
                request = {"batch": count - before, "expires": int(STALLED * 1e9)}
                await self._nc.publish(
                    f"$JS.API.CONSUMER.MSG.NEXT.{self._stream}.{info.name}",
                    json.dumps(request).encode(),
                    reply=reply,
                )
                with contextlib.suppress(TimeoutError):
                    status = await asyncio.wait_for(asyncio.shield(asked), STALLED + 1)
                    if status == "404":  # nothing more stored: a range shorter than its head
                        break
                if len(delivered) == before:
                    raise TimeoutError(f"no event of range {index} within {STALLED:g}s")
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
            with contextlib.suppress(Exception):
                await js.delete_consumer(self._stream, info.name)
        return delivered


def _heard(task: asyncio.Task[list[StoredEvent]]) -> None:
    if not task.cancelled():
        task.exception()


_TAPS: weakref.WeakKeyDictionary[NATS, dict[tuple[str, str], _StreamTap]] = (
    weakref.WeakKeyDictionary()
)


def _tap(nc: NATS, stream: str, subject_filter: str) -> _StreamTap:
    taps = _TAPS.setdefault(nc, {})
    tap = taps.get((stream, subject_filter))
    if tap is None:
        tap = taps[stream, subject_filter] = _StreamTap(nc, stream, subject_filter)
    return tap
