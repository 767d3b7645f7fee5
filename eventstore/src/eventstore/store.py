"""The event store on NATS JetStream.

One stream per bounded context, one subject per aggregate instance and event type
(`<context>.events.<aggregate_type>.<aggregate_id>.<EventType>`). Appends carry
`Nats-Expected-Last-Subject-Sequence` over the aggregate's wildcard so a stale writer
fails with 10071; several events go in one atomic batch (server 2.12+, `allow_atomic`).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import nats.errors
import orjson
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import StorageType, StreamConfig
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError
from pydantic import ValidationError

from contracts_schema.envelope import EventEnvelope
from contracts_schema.subjects import BoundedContext
from eventstore.bulk_seal import seal_trusted
from eventstore.clock import Clock
from eventstore.errors import (
    AlreadyAppended,
    AppendFailed,
    ConcurrencyConflict,
    EventStoreError,
    StreamNotFound,
)
from eventstore.group_append import GroupedEvent, publish_group
from eventstore.inbox import Replies, caught_up, subscribe_sink
from eventstore.losses import Losses
from eventstore.ports import EventStorePort, GroupAppender, Sealer
from eventstore.records import (
    AggregateHistory,
    CommandMetadata,
    NewEvent,
    StoredEvent,
    decode,
    seal,
)
from eventstore.signing import EventSigner
from eventstore.trust import Trust, UntrustedHistory, read_event

# The values live in eventstore.records; importing them from here keeps working.
__all__ = [
    "AggregateHistory",
    "CommandMetadata",
    "EventStore",
    "NewEvent",
    "StoredEvent",
    "decode",
]

WRONG_LAST_SEQUENCE = 10071
# An atomic batch whose first message's expected sequence is stale reports this code instead.
BATCH_WRONG_LAST_SEQUENCE = 10164
DIRECT_GET_BATCH = 1000
PUBLISH_TIMEOUT = 5.0


_COMPARED = (
    "subjects",
    "num_replicas",
    "allow_atomic",
    "allow_direct",
    "deny_delete",
    "deny_purge",
    "duplicate_window",
)


def differs(current: StreamConfig, wanted: StreamConfig) -> bool:
    """Whether a stream's configuration differs from the wanted one in what the code sets."""
    return any(
        getattr(wanted, name) is not None and getattr(current, name) != getattr(wanted, name)
        for name in _COMPARED
    )


class EventStore:
    # `append` takes envelopes sealed beforehand (`sealed`): a command seals while the broker
    # answers its processed-command lookup, not after (eventstore.commands).
    SEALS_AHEAD = True

    def __init__(
        self,
        nc: NATS,
        clock: Clock,
        *,
        replicas: int = 1,
        protect: bool = True,
        signers: Mapping[str, EventSigner] | None = None,
    ) -> None:
        self._nc = nc
        self._signers = dict(signers or {})  # context name -> its service's key
        self._clock = clock
        self._replicas = replicas
        self._protect = protect  # deny message delete and purge: the log is append-only
        # The appends' acknowledgements, taken as read (no request machinery per append).
        self._replies = Replies(nc)
        # What the streams have lost: no command on an aggregate whose last event may be
        # among it (`eventstore.losses`; shared by the stores on this connection).
        self.losses = Losses.of(nc, self._signers)

    @property
    def replicas(self) -> int:
        return self._replicas

    @property
    def nc(self) -> NATS:
        return self._nc

    @property
    def _js(self) -> JetStreamContext:
        return self._nc.jetstream()

    async def ensure_stream(self, context: BoundedContext) -> None:
        config = StreamConfig(
            name=context.stream,
            subjects=[context.event_subjects],
            storage=StorageType.FILE,
            num_replicas=self._replicas,
            allow_atomic=True,
            allow_direct=True,
            deny_delete=self._protect,
            deny_purge=self._protect,
            duplicate_window=120.0,
        )
        # A stream this process writes on: its losses are asked beside each load (`load`).
        self.losses.watch(context.stream, context.name)
        try:
            info = await self._js.stream_info(context.stream)
        except NotFoundError:
            await self._js.add_stream(config)
            return
        # Only the operator's NATS user may reconfigure a stream: a service asks for an update
        # only when the stream differs from the code (a deployment that changes it).
        if differs(info.config, config):
            await self._js.update_stream(config)
        # What it has lost (deleted, purged, lost on disk), known before the first command.
        await self.losses.refresh(context.stream, context.name)

    async def load(
        self, context: BoundedContext, aggregate_type: str, aggregate_id: str
    ) -> AggregateHistory:
        subject_filter = context.aggregate_filter(aggregate_type, aggregate_id)
        # On a stream this process writes on, its losses are asked beside the read (one
        # request shared by the loads under way; the append after it waits for the answer):
        # a command on this history is refused when its last event may be among them
        # (`trust.refuse_untrusted`, `append`; `eventstore.losses`). A reader asks nothing.
        losses = self.losses
        if context.stream in losses.watched:
            losses.ask_beside_load(context.stream, context.name)
        try:
            events = [e async for e in self._direct_get(context.stream, subject_filter, 1)]
            if context.stream in losses.thresholds:  # refusing: on the answer (repaired?)
                await losses.settle(context.stream)
        except ValidationError as exc:
            # Bytes on the aggregate's subject that are no envelope (anyone with the stream's
            # login can publish them): refused as an altered or unsigned event is, not an
            # internal error with a traceback (correct17).
            raise UntrustedHistory(
                f"{aggregate_type}/{aggregate_id}: its history holds a message on"
                f" {context.stream} that is no event envelope ({exc.errors()[0]['msg']});"
                " nothing is decided on it until an operator removes it (`audit verify`"
                " names it)"
            ) from exc
        last_seq = events[-1].seq if events else 0
        return AggregateHistory(context, aggregate_type, aggregate_id, tuple(events), last_seq)

    async def read_stream(
        self,
        context: BoundedContext,
        from_seq: int = 1,
        subject_filter: str | None = None,
        *,
        trust: Trust | None = None,
    ) -> AsyncIterator[StoredEvent]:
        """Every event of the context's stream from a sequence on, in order. With `trust`,
        read as a reader reads (`eventstore.trust.read_event`): what it may not take as fact
        comes with `refused` set, undecodable bytes included, instead of ending the read."""
        async for event in self._direct_get(
            context.stream, subject_filter or context.event_subjects, from_seq, trust
        ):
            yield event

    async def last_seq(self, context: BoundedContext) -> int:
        try:
            info = await self._js.stream_info(context.stream)
        except NotFoundError as exc:
            raise StreamNotFound(context.stream) from exc
        return int(info.state.last_seq)

    async def _direct_get(
        self, stream: str, subject_filter: str, from_seq: int, trust: Trust | None = None
    ) -> AsyncIterator[StoredEvent]:
        # Batched Direct Get (server 2.11+): one round trip per 1000 events.
        next_seq = from_seq
        while True:
            batch, pending, failure = await self._direct_batch(
                stream, subject_filter, next_seq, trust
            )
            for event in batch:
                yield event
            if failure is not None:  # raised after the events before it, as they came
                raise failure
            if batch:
                next_seq = batch[-1].seq + 1
            if pending == 0:
                return

    async def _direct_batch(
        self, stream: str, subject_filter: str, seq: int, trust: Trust | None = None
    ) -> tuple[list[StoredEvent], int, Exception | None]:
        """One batch from `seq` on, how many matching events remain after it, and the
        failure (an undecodable event, a status) that ended it early, if any.

        The messages are taken as the connection reads them (`inbox.Sink`: no task, no
        queue); the read fails when no message comes for PUBLISH_TIMEOUT seconds and none is
        among what the server sent before a PONG asked then (a starved loop can let the
        timer fall due with the messages already here, unread: `eventstore.inbox`)."""
        loop = asyncio.get_running_loop()
        ended: asyncio.Future[int] = loop.create_future()  # the pending count at the end
        events: list[StoredEvent] = []
        failures: list[Exception] = []

        def on_message(msg: Msg) -> None:
            if ended.done():
                return
            headers = msg.headers or {}
            status = headers.get("Status")
            try:
                if status == "404":  # nothing (more) matches
                    ended.set_result(0)
                elif status == "204":  # end of this batch
                    ended.set_result(int(headers.get("Nats-Num-Pending", "0")))
                elif status:
                    raise EventStoreError(f"direct get on {stream} failed: {status} {headers}")
                else:
                    sequence = int(headers["Nats-Sequence"])
                    subject = headers["Nats-Subject"]
                    events.append(
                        decode(subject, stream, sequence, msg.data)
                        if trust is None
                        else read_event(trust, subject, stream, sequence, msg.data)
                    )
            except Exception as exc:
                failures.append(exc)
                ended.set_result(0)

        inbox = self._nc.new_inbox()
        sub = await subscribe_sink(self._nc, inbox, on_message)
        try:
            request = {"seq": seq, "next_by_subj": subject_filter, "batch": DIRECT_GET_BATCH}
            await self._nc.publish(
                f"$JS.API.DIRECT.GET.{stream}", json.dumps(request).encode(), reply=inbox
            )
            seen = -1
            while not ended.done():
                if len(events) == seen:  # nothing came by the clock: read what did, then say
                    await caught_up(self._nc)
                    if len(events) == seen and not ended.done():
                        raise nats.errors.TimeoutError  # as `next_msg` did: nothing came
                    continue
                seen = len(events)
                await asyncio.wait([ended], timeout=PUBLISH_TIMEOUT)
            return events, ended.result(), failures[0] if failures else None
        finally:
            await sub.unsubscribe()

    def seal(
        self,
        history: AggregateHistory,
        new_events: Sequence[NewEvent],
        meta: CommandMetadata,
    ) -> list[EventEnvelope]:
        """Wrap payloads in envelopes continuing the aggregate's version and hash chain."""
        return seal(self._clock, history, new_events, meta, self._signers.get(history.context.name))

    def sealer(self) -> Sealer:
        """`seal` for a bulk writer's own values: `bulk_seal.seal_trusted` with this store's
        clock and keys (the same envelopes without pydantic's validation walk)."""
        clock, signers = self._clock, self._signers

        def sealing(
            history: AggregateHistory, new_events: Sequence[NewEvent], meta: CommandMetadata
        ) -> list[EventEnvelope]:
            return seal_trusted(clock, history, new_events, meta, signers.get(history.context.name))

        return sealing

    async def append(
        self,
        history: AggregateHistory,
        new_events: Sequence[NewEvent],
        meta: CommandMetadata,
        *,
        headers: Mapping[str, str] | None = None,
        sealed: Sequence[EventEnvelope] | None = None,
    ) -> list[StoredEvent]:
        """Append all events or none, if the aggregate has not moved since `history`.

        `headers` go on every event's NATS message as they are (e.g. W3C `traceparent`, so a
        trace continues into whatever consumes the events); the store's own `Nats-*` headers
        cannot be overridden. `sealed`: `new_events` as `seal` sealed them on `history`
        already (`SEALS_AHEAD`: the command path seals while its processed-command lookup is
        under way), appended as they are.
        """
        extra = dict(headers) if headers else {}
        reserved = sorted(k for k in extra if k.lower().startswith("nats-")) if extra else ()
        if reserved:
            raise ValueError(
                f"extra event headers may not set {', '.join(reserved)}: Nats-* headers carry"
                " the store's deduplication, concurrency and batch control"
            )
        if not new_events:
            return []
        context = history.context
        losses = self.losses
        if losses.unsettled:  # a load asked the stream's losses: the answer first
            await losses.settle(context.stream)
        if losses.thresholds:  # a stream lost messages: not on a head that may miss its last
            losses.refuse(
                context.stream, f"{history.aggregate_type}/{history.aggregate_id}", history.last_seq
            )
        if losses.due(context.stream):  # (one clock read) asked again, in the background
            losses.refresh_soon(context.stream, context.name)
        envelopes = self.seal(history, new_events, meta) if sealed is None else list(sealed)
        subject_filter = context.aggregate_filter(history.aggregate_type, history.aggregate_id)
        atomic = len(envelopes) > 1
        batch_id = uuid.uuid4().hex if atomic else ""
        reply: dict[str, Any] = {}
        subjects = []
        for index, envelope in enumerate(envelopes, start=1):
            subject = context.event_subject(
                history.aggregate_type, history.aggregate_id, envelope.event_type
            )
            subjects.append(subject)
            headers = {
                **extra,
                # Deterministic per command: a resend within the window is deduplicated.
                "Nats-Msg-Id": f"{context.name}:{meta.command_id}:{history.aggregate_id}:{index}",
            }
            if index == 1:
                headers["Nats-Expected-Last-Subject-Sequence"] = str(history.last_seq)
                headers["Nats-Expected-Last-Subject-Sequence-Subject"] = subject_filter
            if atomic:
                headers["Nats-Batch-Id"] = batch_id
                headers["Nats-Batch-Sequence"] = str(index)
            payload = envelope.model_dump_json().encode()
            if atomic and index < len(envelopes):
                await self._nc.publish(subject, payload, headers=headers)
                continue
            if atomic:
                headers["Nats-Batch-Commit"] = "1"
            try:
                msg = await self._replies.request(
                    subject, payload, headers=headers, timeout=PUBLISH_TIMEOUT
                )
            except nats.errors.NoRespondersError as exc:
                raise AppendFailed(None, f"no stream listens on {subject}") from exc
            # The stream's acknowledgement, parsed by orjson (the same values; the json
            # module's parse cost ten times as much for these few bytes: cmd17).
            reply = orjson.loads(msg.data or b"{}")
        if reply.get("duplicate"):
            raise AlreadyAppended(meta.command_id)
        error = reply.get("error")
        if error:
            if error.get("err_code") in (WRONG_LAST_SEQUENCE, BATCH_WRONG_LAST_SEQUENCE):
                description = error.get("description", "")
                if _behind(description, history.last_seq):
                    # The stream holds less of the aggregate than we appended on: our head's
                    # event is gone. Refused (`LostMessages`) once the stream says so.
                    await losses.refresh(context.stream, context.name)
                    losses.refuse(
                        context.stream,
                        f"{history.aggregate_type}/{history.aggregate_id}",
                        history.last_seq,
                    )
                raise ConcurrencyConflict(subject_filter, history.last_seq, description)
            raise AppendFailed(error.get("err_code"), error.get("description", str(error)))
        last = int(reply["seq"])
        first = last - len(envelopes) + 1
        return [
            StoredEvent(envelope, reply["stream"], first + i, subjects[i])
            for i, envelope in enumerate(envelopes)
        ]

    async def append_group(self, events: Sequence[GroupedEvent]) -> Sequence[StoredEvent]:
        """Many aggregates' sealed events in one atomic batch, each aggregate guarded by its
        expected last sequence (`eventstore.group_append`): all stored, or none. None on a
        head whose last event its stream may have lost (`LostMessages`, as `append`)."""
        losses = self.losses
        if losses.unsettled and events:
            await losses.settle(events[0].context.stream)
        if losses.thresholds:
            for event in events:
                if event.expected_last_seq is not None:
                    losses.refuse(
                        event.context.stream,
                        f"{event.aggregate_type}/{event.aggregate_id}",
                        event.expected_last_seq,
                    )
        if events and losses.due(events[0].context.stream):
            losses.refresh_soon(events[0].context.stream, events[0].context.name)
        return await publish_group(self._nc, events)


def _behind(description: str, expected: int) -> bool:
    """Whether JetStream's "wrong last sequence: N" names a sequence before `expected`."""
    _, _, told = description.rpartition(":")
    told = told.strip()
    return told.isdigit() and int(told) < expected


_conforms: type[EventStorePort] = EventStore
_groups: type[GroupAppender] = EventStore
