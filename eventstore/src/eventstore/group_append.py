"""Many commands' events, on many aggregates, appended in one atomic JetStream batch.

A JetStream atomic batch is committed (and synced) as one unit, one commit at a time per
stream: a commit per command bounds a bulk writer to a few dozen commands a second. A group
commit decides many commands first and appends all their events in one batch:

- `StagedStore` is an `EventStorePort` that a `CommandService` decides on as usual (load,
  decide, seal, append), but its appends are only staged: each aggregate continues from its
  staged events (version, hash chain, a provisional sequence), and a load sees them.
- `GroupedEvent` is one staged event, in the order staged; each aggregate's first carries
  the sequence its decisions were based on. `append_group` on a store (JetStream:
  `publish_group`) appends a list of them all or none, each aggregate guarded by its own
  expected last sequence (the header is honoured on any message of a batch), as `append`
  guards one. A stale aggregate fails the whole batch (`ConcurrencyConflict`), a Msg-Id
  stored before fails it too (10201, a resend); nothing is stored.

The single-aggregate `append` is unchanged; this is an additional way in.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, overload

import nats.errors
from nats.aio.client import Client as NATS

from contracts_schema.envelope import EventEnvelope
from contracts_schema.subjects import BoundedContext
from eventstore.bulk_seal import ENVELOPE_FIELDS, StoredForms, json_time, stored_form
from eventstore.errors import AppendFailed, ConcurrencyConflict
from eventstore.ports import EventStorePort, Sealer
from eventstore.records import AggregateHistory, CommandMetadata, NewEvent, StoredEvent

MAX_BATCH = 1000  # nats-server's default `jetstream.limits.batch.max_msgs`
# Provisional sequences of staged events lie above any real one: index + PROVISIONAL.
PROVISIONAL = 1 << 62
WRONG_LAST_SEQUENCE = 10071
BATCH_WRONG_LAST_SEQUENCE = 10164
COMMIT_TIMEOUT = 30.0  # seconds: a commit of a thousand messages is synced once


@dataclass(frozen=True)
class GroupedEvent:
    """One sealed event of a group, with its deduplication id; the first event of each
    aggregate in the group carries the aggregate's last sequence its decisions were made on."""

    context: BoundedContext
    aggregate_type: str
    aggregate_id: str
    envelope: EventEnvelope
    msg_id: str
    expected_last_seq: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)  # e.g. W3C traceparent
    # Its stored bytes, encoded when it was sealed (`bulk_seal.StoredForms`); None: encoded
    # from the envelope when published (`stored_json`). Always `stored_json`'s bytes.
    data: bytes | None = field(default=None, compare=False, repr=False)

    @cached_property  # (asked by the publish and by `Positioned`: built once)
    def subject(self) -> str:
        return self.context.event_subject(
            self.aggregate_type, self.aggregate_id, self.envelope.event_type
        )

    @property
    def subject_filter(self) -> str:
        return self.context.aggregate_filter(self.aggregate_type, self.aggregate_id)


def msg_id(context: BoundedContext, command_id: str, aggregate_id: str, index: int) -> str:
    """The Nats-Msg-Id `EventStore.append` gives an event: a resend is deduplicated."""
    return f"{context.name}:{command_id}:{aggregate_id}:{index}"


def check_group(events: Sequence[GroupedEvent]) -> None:
    streams = {e.context.stream for e in events}
    if len(streams) > 1:
        raise ValueError(f"a group appends to one stream, not {sorted(streams)}")
    if len(events) > MAX_BATCH:
        raise ValueError(f"a group holds at most {MAX_BATCH} events, not {len(events)}")


async def publish_group(nc: NATS, events: Sequence[GroupedEvent]) -> Sequence[StoredEvent]:
    """Append the events, in order, in one atomic batch (JetStream): all or none. Raises
    ConcurrencyConflict when an aggregate moved, AppendFailed otherwise (10201: one of the
    Msg-Ids was stored before)."""
    if not events:
        return []
    check_group(events)
    batch_id = uuid.uuid4().hex
    atomic = len(events) > 1
    messages = []
    for n, event in enumerate(events, start=1):
        headers = {**event.headers, "Nats-Msg-Id": event.msg_id}
        if event.expected_last_seq is not None:  # honoured on any message of a batch
            headers["Nats-Expected-Last-Subject-Sequence"] = str(event.expected_last_seq)
            headers["Nats-Expected-Last-Subject-Sequence-Subject"] = event.subject_filter
        if atomic:
            headers["Nats-Batch-Id"] = batch_id
            headers["Nats-Batch-Sequence"] = str(n)
        if atomic and n == len(events):
            headers["Nats-Batch-Commit"] = "1"
        data = event.data
        messages.append((event.subject, stored_json(event.envelope) if data is None else data,
                         headers))  # fmt: skip
    *leading, (subject, payload, headers) = messages
    frames = _frames(nc, [(s, "", p, h) for s, p, h in leading])
    if frames is None:  # written message by message, as any publish
        for s, p, h in leading:
            await nc.publish(s, p, headers=h)
    elif frames:
        await _queue(nc, frames)
    try:
        msg = await nc.request(subject, payload, headers=headers, timeout=COMMIT_TIMEOUT)
    except nats.errors.NoRespondersError as exc:
        raise AppendFailed(None, f"no stream listens on {subject}") from exc
    reply: dict[str, Any] = json.loads(msg.data or b"{}")
    error = reply.get("error")
    if error:
        if error.get("err_code") in (WRONG_LAST_SEQUENCE, BATCH_WRONG_LAST_SEQUENCE):
            raise ConcurrencyConflict(
                "(an aggregate of the group)", 0, error.get("description", "")
            )
        raise AppendFailed(error.get("err_code"), error.get("description", str(error)))
    if reply.get("duplicate"):  # a group of one event, stored before under its Msg-Id
        raise AppendFailed(None, "the group's one event was appended before")
    first = int(reply["seq"]) - len(events) + 1
    return Positioned(events, str(reply["stream"]), first)


def stored_json(envelope: EventEnvelope) -> bytes:
    """`envelope.model_dump_json()`, the bytes stored, encoded by orjson from the envelope's
    values (a fifth of the time): its two times in the JSON form pydantic gives them
    (`bulk_seal.json_time`: the sealing's own, kept), every other value as it is. Only
    where that is the same text: an envelope of the model itself whose values are JSON
    forms (strings, integers within 64 bits, floats, booleans, None, lists and dicts of them
    with string keys; `tests/unit/eventstore/test_group_stored_json.py`); anything else (a
    datetime or Decimal in a payload, a lone surrogate, a larger integer) is dumped by the
    model."""
    values = envelope.__dict__
    if type(envelope) is EventEnvelope and tuple(values) == ENVELOPE_FIELDS:
        occurred, recorded = values["occurred_at"], values["recorded_at"]
        if (
            type(occurred) is datetime
            and type(recorded) is datetime
            and occurred.tzinfo is not None
            and recorded.tzinfo is not None
        ):
            plain = {
                **values,
                "occurred_at": json_time(occurred),
                "recorded_at": json_time(recorded),
            }
            found = stored_form(plain)
            if found is not None:
                return found
    return envelope.model_dump_json().encode()


# What nats-py's `publish` takes without changing it: a subject of visible characters, header
# names of printable ASCII but the colon, values without line breaks or edge whitespace.
_SUBJECT = re.compile(r"[!-~]+")
_HEADER_NAME = re.compile(r"[!-9;-~]+")
_NAMES = frozenset(  # (the names set here: valid as written)
    ("Nats-Msg-Id", "Nats-Expected-Last-Subject-Sequence", "Nats-Batch-Id",
     "Nats-Expected-Last-Subject-Sequence-Subject", "Nats-Batch-Sequence", "Nats-Batch-Commit")
)  # fmt: skip


def _frames(
    nc: NATS, messages: Sequence[tuple[str, str, bytes, Mapping[str, str] | None]]
) -> bytes | None:
    """The messages (subject, reply subject or "", payload, headers or None) as the NATS
    protocol writes them (`PUB`, `HPUB`), in one byte string: what `nc.publish` of each
    would queue, without its checks and work per message (a tenth of a registry's CPU in a
    group commit). None when a message is not plainly of that form or the connection is not
    plainly up: then each goes through `nc.publish`."""
    if not nc.is_connected or nc.is_draining_pubs:
        return None
    limit = nc.max_payload
    frames = []
    for subject, reply, payload, headers in messages:
        if not _SUBJECT.fullmatch(subject) or (reply and not _SUBJECT.fullmatch(reply)):
            return None
        if len(payload) > limit:
            return None  # (`publish` refuses it: MaxPayloadError)
        to = f"{subject} {reply}".rstrip().encode()
        if headers is None:
            frames.append(b"PUB %s %d\r\n%s\r\n" % (to, len(payload), payload))
            continue
        lines = []
        for name, value in headers.items():
            if name not in _NAMES and not _HEADER_NAME.fullmatch(name):
                return None
            if "\n" in value or "\r" in value or value.strip() != value:
                return None
            lines.append(f"{name}: {value}\r\n")
        head = f"NATS/1.0\r\n{''.join(lines)}\r\n".encode()
        size = len(head) + len(payload)
        frames.append(b"HPUB %s %d %d\r\n%s%s\r\n" % (to, len(head), size, head, payload))
    return b"".join(frames)


async def _queue(nc: NATS, frames: bytes) -> None:
    """Queue protocol bytes on the connection, behind what it queued before, and wake its
    flusher: what `publish` does after building a message (nats-py 2.16's internals; the
    version is pinned)."""
    await nc._send_command(frames)
    if nc._flush_queue is not None and nc._flush_queue.empty():
        await nc._flush_pending()


class Positioned(Sequence[StoredEvent]):
    """The events as stored from sequence `first` on, in order, each `StoredEvent` made when
    it is read: a group commit reads one per process of the thousand events it appended
    (helper import36)."""

    def __init__(self, events: Sequence[GroupedEvent], stream: str, first: int) -> None:
        self._events = events
        self.stream = stream
        self.first = first

    def __len__(self) -> int:
        return len(self._events)

    @overload
    def __getitem__(self, index: int) -> StoredEvent: ...

    @overload
    def __getitem__(self, index: slice) -> list[StoredEvent]: ...

    def __getitem__(self, index: int | slice) -> StoredEvent | list[StoredEvent]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self._events)))]
        n = range(len(self._events))[index]  # (negative indexes; IndexError beyond)
        e = self._events[n]
        return StoredEvent(e.envelope, self.stream, self.first + n, e.subject)

    def __iter__(self) -> Iterator[StoredEvent]:
        stream, first = self.stream, self.first
        for n, e in enumerate(self._events):
            yield StoredEvent(e.envelope, stream, first + n, e.subject)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return list(self) == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"Positioned({list(self)!r})"


@dataclass
class _Staged:
    base: AggregateHistory  # as loaded before the first staged event
    events: list[StoredEvent] = field(default_factory=list)

    def history(self) -> AggregateHistory:
        b = self.base
        last_seq = self.events[-1].seq if self.events else b.last_seq
        return AggregateHistory(
            b.context, b.aggregate_type, b.aggregate_id, (*b.events, *self.events), last_seq
        )


class StagedStore:
    """An `EventStorePort` whose appends are staged, to be appended as one group.

    Loads read the base store once per aggregate (the staged decisions are based on that
    read) plus what was staged since; appends check the expected sequence against the staged
    head and number their events provisionally (`PROVISIONAL` + their index in the group).
    `groups()` gives what to append; `real_seq` maps a provisional sequence once stored.
    """

    SEALS_AHEAD = False  # staging waits on nothing: `append` seals (or takes them sealed)

    def __init__(
        self,
        base: EventStorePort,
        known_new: frozenset[tuple[str, str, str]] = frozenset(),
        sealer: Sealer | None = None,
    ) -> None:
        """`known_new`: aggregates (stream, type, id) known to have no event yet: answered
        as new without a load (one written meanwhile fails its expected sequence 0).
        `sealer`: seals in place of the base store's `seal` (the same envelopes: a bulk
        writer's `bulk_seal.seal_trusted`)."""
        self._base = base
        self._sealer = sealer
        self._known_new = known_new
        self._staged: dict[tuple[str, str, str], _Staged] = {}
        self._count = 0
        # What to append, made as each event is staged: event i has provisional sequence
        # PROVISIONAL + i, so this is the order staged and the order of their sequences.
        self._grouped: list[GroupedEvent] = []
        # The folded state of an aggregate as the deciding service holds it (its cache):
        # (the sequence it is folded up to, the state), or None (`group_commit.staged_twin`).
        self.folded: Callable[[BoundedContext, str, str], tuple[int, Any] | None] | None = None

    def state(self, context: BoundedContext, aggregate_type: str, aggregate_id: str) -> Any:
        """The aggregate's state as its decider folded it up to everything staged here, or
        None when not known so (not staged, not held, or held at another head): a facts
        loader then folds it from the events, as on any store."""
        staged = self._staged.get((context.stream, aggregate_type, aggregate_id))
        found = None if self.folded is None else self.folded(context, aggregate_type, aggregate_id)
        if staged is None or found is None or not staged.events:
            return None
        last_seq, state = found
        return state if last_seq == staged.events[-1].seq else None

    @property
    def count(self) -> int:
        """Events staged so far."""
        return self._count

    def real_seq(self, provisional: int, first: int) -> int:
        """The sequence of a staged event once the group is stored from `first` on."""
        return first + provisional - PROVISIONAL if provisional >= PROVISIONAL else provisional

    async def ensure_stream(self, context: BoundedContext) -> None:
        await self._base.ensure_stream(context)

    async def last_seq(self, context: BoundedContext) -> int:
        return await self._base.last_seq(context)

    async def load(
        self, context: BoundedContext, aggregate_type: str, aggregate_id: str
    ) -> AggregateHistory:
        return (await self._aggregate(context, aggregate_type, aggregate_id)).history()

    async def _aggregate(
        self, context: BoundedContext, aggregate_type: str, aggregate_id: str
    ) -> _Staged:
        key = (context.stream, aggregate_type, aggregate_id)
        staged = self._staged.get(key)
        if staged is None:
            if key in self._known_new:
                base = AggregateHistory(context, aggregate_type, aggregate_id, (), 0)
            else:
                base = await self._base.load(context, aggregate_type, aggregate_id)
            staged = self._staged.setdefault(key, _Staged(base))
        return staged

    async def read_stream(
        self, context: BoundedContext, from_seq: int = 1, subject_filter: str | None = None
    ) -> AsyncIterator[StoredEvent]:
        from eventstore.memory import subject_matches

        wanted = subject_filter or context.event_subjects
        if from_seq < PROVISIONAL:
            async for event in self._base.read_stream(context, from_seq, subject_filter):
                yield event
        staged = sorted(
            (e for s in self._staged.values() for e in s.events if e.stream == context.stream),
            key=lambda e: e.seq,
        )
        for event in staged:
            if event.seq >= from_seq and subject_matches(wanted, event.subject):
                yield event

    def seal(
        self, history: AggregateHistory, new_events: Sequence[NewEvent], meta: CommandMetadata
    ) -> list[EventEnvelope]:
        if self._sealer is not None:
            return self._sealer(history, new_events, meta)
        return self._base.seal(history, new_events, meta)

    def sealer(self) -> Sealer:
        return self._sealer if self._sealer is not None else self._base.sealer()

    async def append(
        self,
        history: AggregateHistory,
        new_events: Sequence[NewEvent],
        meta: CommandMetadata,
        *,
        headers: Mapping[str, str] | None = None,
        sealed: Sequence[EventEnvelope] | None = None,
    ) -> list[StoredEvent]:
        extra = dict(headers or {})
        reserved = sorted(k for k in extra if k.lower().startswith("nats-"))
        if reserved:
            raise ValueError(f"extra event headers may not set {', '.join(reserved)}")
        if not new_events:
            return []
        context = history.context
        staged = await self._aggregate(context, history.aggregate_type, history.aggregate_id)
        head = staged.history().last_seq
        if head != history.last_seq:
            filter_ = context.aggregate_filter(history.aggregate_type, history.aggregate_id)
            raise ConcurrencyConflict(filter_, history.last_seq, f"staged head is {head}")
        forms: list[bytes | None] = []
        if sealed is not None:
            envelopes = list(sealed)
        elif self._sealer is not None:
            with StoredForms() as forms:  # (a bulk sealer gives each one's stored bytes)
                envelopes = self._sealer(history, new_events, meta)
        else:
            envelopes = self._base.seal(history, new_events, meta)
        if len(forms) != len(envelopes):  # (not sealed by `seal_trusted`)
            forms = [None] * len(envelopes)
        stored = []
        b = staged.base
        aggregate_type, aggregate_id, stream = b.aggregate_type, b.aggregate_id, context.stream
        expected = b.last_seq if not staged.events else None  # the aggregate's first event
        command_id = meta.command_id
        for index, (envelope, data) in enumerate(zip(envelopes, forms, strict=True), start=1):
            subject = context.event_subject(aggregate_type, aggregate_id, envelope.event_type)
            event = StoredEvent(envelope, stream, PROVISIONAL + self._count, subject)
            self._count += 1
            staged.events.append(event)
            stored.append(event)
            grouped = GroupedEvent(
                context, aggregate_type, aggregate_id, envelope,
                msg_id(context, command_id, aggregate_id, index), expected, extra, data,
            )  # fmt: skip
            grouped.__dict__["subject"] = subject  # (its cached property, known here)
            self._grouped.append(grouped)
            expected = None
        return stored

    def events(self) -> list[GroupedEvent]:
        """What to append, in the order staged; event i has provisional sequence
        PROVISIONAL + i, and stored from sequence `first` on it gets `first + i`. Each
        aggregate's first event carries the sequence its decisions were based on."""
        return list(self._grouped)


_conforms: type[EventStorePort] = StagedStore
