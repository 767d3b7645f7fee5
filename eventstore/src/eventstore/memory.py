"""The event store in memory, with JetStream's semantics as `eventstore.store` meets them.

For tests that need an event store but not a broker. Per-stream sequences, one subject per
aggregate instance and event type, the expected-last-sequence check, all-or-none batches and
the broker's Msg-Id deduplication window behave as the JetStream store's do, including their
order: a single event with a stale expected sequence is a conflict even when its Msg-Id is a
duplicate, while a batch holding a duplicate Msg-Id fails as a whole (10201) before its
sequence is looked at. tests/acceptance runs one suite against both stores.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from contracts_schema.envelope import EventEnvelope
from contracts_schema.subjects import BoundedContext
from eventstore.clock import Clock
from eventstore.errors import AlreadyAppended, AppendFailed, ConcurrencyConflict, StreamNotFound
from eventstore.group_append import GroupedEvent, check_group
from eventstore.ports import (
    EventSource,
    EventStorePort,
    GroupAppender,
    Handler,
    ProcessedCommands,
    Sealer,
    Subscription,
)
from eventstore.records import (
    AggregateHistory,
    CommandMetadata,
    NewEvent,
    StoredEvent,
    decode,
    seal,
)
from eventstore.tasks import cancel_and_wait

log = logging.getLogger(__name__)

# JetStream's error codes, so that a caller sees the same AppendFailed from either store.
WRONG_LAST_SEQUENCE = 10071
BATCH_WRONG_LAST_SEQUENCE = 10164
BATCH_DUPLICATE_MSG_ID = 10201
DUPLICATE_WINDOW = 120.0  # seconds, as `ensure_stream` configures the real stream


def subject_matches(subject_filter: str, subject: str) -> bool:
    """NATS subject matching: `*` is one token, a final `>` one or more."""
    wanted, tokens = subject_filter.split("."), subject.split(".")
    for index, token in enumerate(wanted):
        if token == ">":
            return len(tokens) > index
        if index >= len(tokens) or (token != "*" and token != tokens[index]):
            return False
    return len(tokens) == len(wanted)


@dataclass
class _Stream:
    context: BoundedContext
    events: list[StoredEvent] = field(default_factory=list)
    by_aggregate: dict[tuple[str, str], list[StoredEvent]] = field(default_factory=dict)
    msg_ids: dict[str, float] = field(default_factory=dict)  # Msg-Id -> when it was stored
    acked: dict[str, int] = field(default_factory=dict)  # durable name -> last handled seq
    wakeups: set[asyncio.Event] = field(default_factory=set)

    @property
    def last_seq(self) -> int:
        return self.events[-1].seq if self.events else 0


class InMemoryProcessedCommands:
    def __init__(self) -> None:
        self._entries: dict[str, bytes] = {}

    async def get(self, key: str) -> bytes | None:
        return self._entries.get(key)

    async def put(self, key: str, value: bytes) -> None:
        self._entries[key] = value


class InMemoryEventStore:
    # Nothing waits on a wire here: `append` seals (it still takes envelopes sealed already).
    SEALS_AHEAD = False

    def __init__(
        self,
        clock: Clock,
        *,
        duplicate_window: float = DUPLICATE_WINDOW,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._window = duplicate_window
        self._monotonic = monotonic
        self._streams: dict[str, _Stream] = {}
        # Shared by every CommandService on this store, as the JetStream bucket is.
        self.processed_commands = InMemoryProcessedCommands()

    def _stream(self, context: BoundedContext) -> _Stream:
        try:
            return self._streams[context.stream]
        except KeyError:
            raise StreamNotFound(context.stream) from None

    async def ensure_stream(self, context: BoundedContext) -> None:
        self._streams.setdefault(context.stream, _Stream(context))

    async def load(
        self, context: BoundedContext, aggregate_type: str, aggregate_id: str
    ) -> AggregateHistory:
        events = tuple(self._stream(context).by_aggregate.get((aggregate_type, aggregate_id), ()))
        last_seq = events[-1].seq if events else 0
        return AggregateHistory(context, aggregate_type, aggregate_id, events, last_seq)

    async def read_stream(
        self,
        context: BoundedContext,
        from_seq: int = 1,
        subject_filter: str | None = None,
        *,
        trust: object = None,  # as EventStore's; events here are values, never foreign bytes
    ) -> AsyncIterator[StoredEvent]:
        stream = self._stream(context)
        wanted = subject_filter or context.event_subjects
        index = max(from_seq, 1) - 1  # sequences start at 1 and have no holes here
        while index < len(stream.events):
            event = stream.events[index]
            index += 1
            if subject_matches(wanted, event.subject):
                yield event

    async def last_seq(self, context: BoundedContext) -> int:
        return self._stream(context).last_seq

    def seal(
        self, history: AggregateHistory, new_events: Sequence[NewEvent], meta: CommandMetadata
    ) -> list[EventEnvelope]:
        return seal(self._clock, history, new_events, meta)

    def sealer(self) -> Sealer:
        return self.seal  # (a memory store's bulk writes are tests': sealed as any other)

    async def append(
        self,
        history: AggregateHistory,
        new_events: Sequence[NewEvent],
        meta: CommandMetadata,
        *,
        headers: Mapping[str, str] | None = None,
        sealed: Sequence[EventEnvelope] | None = None,
    ) -> list[StoredEvent]:
        reserved = sorted(k for k in headers or {} if k.lower().startswith("nats-"))
        if reserved:
            raise ValueError(
                f"extra event headers may not set {', '.join(reserved)}: Nats-* headers carry"
                " the store's deduplication, concurrency and batch control"
            )
        if not new_events:
            return []
        envelopes = self.seal(history, new_events, meta) if sealed is None else list(sealed)
        context = history.context
        subjects = [
            context.event_subject(history.aggregate_type, history.aggregate_id, e.event_type)
            for e in envelopes
        ]
        stream = self._streams.get(context.stream)
        if stream is None:
            raise AppendFailed(None, f"no stream listens on {subjects[-1]}")
        # No await from here on: the checks and the write are one step, as on the server.
        now = self._monotonic()
        stream.msg_ids = {k: t for k, t in stream.msg_ids.items() if now - t < self._window}
        msg_ids = [
            f"{context.name}:{meta.command_id}:{history.aggregate_id}:{index}"
            for index in range(1, len(envelopes) + 1)
        ]
        atomic = len(envelopes) > 1
        if atomic and any(m in stream.msg_ids for m in msg_ids):
            raise AppendFailed(
                BATCH_DUPLICATE_MSG_ID, "atomic publish batch contains duplicate message id"
            )
        key = (history.aggregate_type, history.aggregate_id)
        aggregate = stream.by_aggregate.setdefault(key, [])
        actual = aggregate[-1].seq if aggregate else 0
        if actual != history.last_seq:
            subject_filter = context.aggregate_filter(*key)
            raise ConcurrencyConflict(
                subject_filter, history.last_seq, f"wrong last sequence: {actual}"
            )
        if msg_ids[0] in stream.msg_ids:
            raise AlreadyAppended(meta.command_id)
        stored = []
        for envelope, subject, msg_id in zip(envelopes, subjects, msg_ids, strict=True):
            seq = stream.last_seq + 1
            # Kept as a reader of the real stream would decode it, from the JSON form.
            kept = decode(subject, context.stream, seq, envelope.model_dump_json().encode())
            stream.events.append(kept)
            aggregate.append(kept)
            stream.msg_ids[msg_id] = now
            stored.append(StoredEvent(envelope, context.stream, seq, subject))
        for wakeup in stream.wakeups:
            wakeup.set()
        return stored

    async def append_group(self, events: Sequence[GroupedEvent]) -> list[StoredEvent]:
        """As `EventStore.append_group`: all or none; a stale expected sequence anywhere is a
        conflict, a Msg-Id seen before fails the batch (10201)."""
        if not events:
            return []
        check_group(events)
        context = events[0].context
        stream = self._streams.get(context.stream)
        if stream is None:
            raise AppendFailed(None, f"no stream listens on {events[0].subject}")
        # No await from here on: the checks and the write are one step, as on the server.
        now = self._monotonic()
        stream.msg_ids = {k: t for k, t in stream.msg_ids.items() if now - t < self._window}
        if len(events) > 1 and any(e.msg_id in stream.msg_ids for e in events):
            raise AppendFailed(
                BATCH_DUPLICATE_MSG_ID, "atomic publish batch contains duplicate message id"
            )
        for e in events:
            if e.expected_last_seq is None:
                continue
            aggregate = stream.by_aggregate.get((e.aggregate_type, e.aggregate_id), [])
            actual = aggregate[-1].seq if aggregate else 0
            if actual != e.expected_last_seq:
                raise ConcurrencyConflict(
                    e.subject_filter, e.expected_last_seq, f"wrong last sequence: {actual}"
                )
        if len(events) == 1 and events[0].msg_id in stream.msg_ids:
            raise AppendFailed(None, "the group's one event was appended before")
        stored = []
        for e in events:
            seq = stream.last_seq + 1
            subject = e.subject
            kept = decode(subject, context.stream, seq, e.envelope.model_dump_json().encode())
            stream.events.append(kept)
            stream.by_aggregate.setdefault((e.aggregate_type, e.aggregate_id), []).append(kept)
            stream.msg_ids[e.msg_id] = now
            stored.append(StoredEvent(e.envelope, context.stream, seq, subject))
        for wakeup in stream.wakeups:
            wakeup.set()
        return stored

    async def restore(self, events: Sequence[StoredEvent]) -> None:
        """Put events stored elsewhere back as they were (same envelope, sequence, subject),
        e.g. a frozen corpus; each stream's sequence must continue without a hole."""
        for event in events:
            stream = next(
                (s for s in self._streams.values() if s.context.stream == event.stream), None
            )
            if stream is None:
                raise StreamNotFound(event.stream)
            if event.seq != stream.last_seq + 1:
                raise ValueError(
                    f"{event.stream}: seq {event.seq} does not follow {stream.last_seq}"
                )
            e = event.envelope
            stream.events.append(event)
            stream.by_aggregate.setdefault((e.aggregate_type, e.aggregate_id), []).append(event)
            for wakeup in stream.wakeups:
                wakeup.set()

    def subscriber(
        self,
        context: BoundedContext,
        durable: str,
        handler: Handler,
        *,
        batch: int = 256,
        subject_filter: str | None = None,
        position: Callable[[], int] | None = None,
    ) -> InMemorySubscriber:
        return InMemorySubscriber(
            self,
            context,
            durable,
            handler,
            batch=batch,
            subject_filter=subject_filter,
            position=position,
        )


class InMemorySubscriber:
    """`DurableSubscriber`'s delivery in memory: ordered batches from a position, then live.

    Without `position` the durable name keeps its place across stops and starts, as a durable
    consumer does; with it, every (re)start begins right after the owner's position. A batch
    whose handler raised is handed over again.
    """

    def __init__(
        self,
        store: InMemoryEventStore,
        context: BoundedContext,
        durable: str,
        handler: Handler,
        *,
        batch: int = 256,
        subject_filter: str | None = None,
        position: Callable[[], int] | None = None,
    ) -> None:
        self._store = store
        self._context = context
        self._durable = durable
        self._handler = handler
        self._batch = batch
        self._filter = subject_filter or context.event_subjects
        self._position = position
        self._task: asyncio.Task[None] | None = None
        self.rearms = 0
        self.gaps = 0  # never in memory: nothing is lost on the way

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"memory-durable-{self._durable}")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    def _start_after(self, stream: _Stream) -> int:
        if self._position is not None:
            return self._position()
        return stream.acked.get(self._durable, 0)

    def _next_batch(self, stream: _Stream, after: int) -> list[StoredEvent]:
        batch: list[StoredEvent] = []
        for event in stream.events[after:]:  # event seq n sits at index n - 1
            if subject_matches(self._filter, event.subject):
                batch.append(event)
                if len(batch) == self._batch:
                    break
        return batch

    async def _run(self) -> None:
        await self._store.ensure_stream(self._context)
        stream = self._store._stream(self._context)
        wakeup = asyncio.Event()
        stream.wakeups.add(wakeup)
        after = self._start_after(stream)
        try:
            while True:
                wakeup.clear()
                batch = self._next_batch(stream, after)
                if not batch:
                    await wakeup.wait()
                    continue
                try:
                    await self._handler(batch)
                except Exception as exc:  # as the real subscriber: re-arm and hand it over again
                    self.rearms += 1
                    log.info("durable %s re-arming after %r", self._durable, exc)
                    await asyncio.sleep(0.2)
                    after = self._start_after(stream)
                    continue
                after = batch[-1].seq
                if self._position is None:
                    stream.acked[self._durable] = after
        finally:
            stream.wakeups.discard(wakeup)


_conforms: type[EventStorePort] = InMemoryEventStore
_feeds: type[EventSource] = InMemoryEventStore
_subscribes: type[Subscription] = InMemorySubscriber
_records: type[ProcessedCommands] = InMemoryProcessedCommands
_groups: type[GroupAppender] = InMemoryEventStore
