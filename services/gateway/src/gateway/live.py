"""Live events from JetStream: ordered consumers per stream, resumable from a sequence."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Iterable, Iterator
from dataclasses import dataclass

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy

from contracts_schema.subjects import CONTEXTS, BoundedContext
from eventstore.store import StoredEvent
from eventstore.trust import duplicates_of, read_event, trust_of
from gateway.event_visibility import HIDDEN_FROM_PARTICIPANTS
from gateway.projections.common import organisation_codes

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiveFilter:
    contexts: tuple[str, ...] = ()
    event_types: tuple[str, ...] = ()
    aggregate_type: str | None = None
    aggregate_id: str | None = None
    organisation_code: str | None = None
    participant: bool = False  # a participant's view: HIDDEN_FROM_PARTICIPANTS left out

    def subject(self, context: BoundedContext) -> str:
        if self.aggregate_type and self.aggregate_id:
            return context.aggregate_filter(self.aggregate_type, self.aggregate_id)
        if self.aggregate_type:
            return context.aggregate_type_filter(self.aggregate_type)
        return context.event_subjects

    def matches(self, event: StoredEvent) -> bool:
        e = event.envelope
        if self.event_types and e.event_type not in self.event_types:
            return False
        if self.aggregate_id and e.aggregate_id != self.aggregate_id:
            return False  # given alone, the subject does not narrow to it (correct22)
        if self.participant and e.event_type in HIDDEN_FROM_PARTICIPANTS:
            return False
        if self.organisation_code:
            codes = set(organisation_codes(e.payload))
            if e.aggregate_type == "organisation":
                codes.add(e.aggregate_id)
            if self.organisation_code not in codes:
                return False
        return True


class TooManySubscriptions(Exception):
    """The client already holds its share of live subscriptions."""


class LiveEvents:
    def __init__(self, nc: NATS) -> None:
        self._nc = nc
        self._held: dict[str, int] = {}  # client (subject) -> live subscriptions, all connections

    @contextlib.contextmanager
    def slot(self, client: str, cap: int) -> Iterator[None]:
        """One of the client's `cap` subscriptions, for as long as it streams."""
        if self._held.get(client, 0) >= cap:
            raise TooManySubscriptions(
                f"{client} already holds {cap} live subscriptions (the per-client limit);"
                " complete one before starting another"
            )
        self._held[client] = self._held.get(client, 0) + 1
        try:
            yield
        finally:
            self._held[client] -= 1
            if not self._held[client]:
                del self._held[client]

    def contexts(self, names: Iterable[str]) -> list[BoundedContext]:
        wanted = list(names) or list(CONTEXTS)
        unknown = [n for n in wanted if n not in CONTEXTS]
        if unknown:
            raise ValueError(f"unknown context(s) {unknown}; known: {sorted(CONTEXTS)}")
        return [CONTEXTS[n] for n in wanted]

    async def stream(
        self, live_filter: LiveFilter, after: dict[str, int]
    ) -> AsyncGenerator[StoredEvent, None]:
        """Events after the given stream positions (new events only for streams not named)."""
        queue: asyncio.Queue[StoredEvent] = asyncio.Queue(maxsize=10_000)
        js = self._nc.jetstream()
        subscriptions = []
        try:
            for context in self.contexts(live_filter.contexts):
                subscriptions.append(
                    await js.subscribe(
                        live_filter.subject(context),
                        stream=context.stream,
                        ordered_consumer=True,
                        cb=self._enqueue(queue, context.stream),
                        **self._start(context, after),  # type: ignore[arg-type]
                    )
                )
                _raise_if_cancelled()
            while True:
                _raise_if_cancelled()
                event = await queue.get()
                if live_filter.matches(event):
                    yield event
        finally:
            for sub in subscriptions:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()

    @staticmethod
    def _start(context: BoundedContext, after: dict[str, int]) -> dict[str, object]:
        if context.stream not in after:
            return {"deliver_policy": DeliverPolicy.NEW}
        return {
            "deliver_policy": DeliverPolicy.BY_START_SEQUENCE,
            "config": ConsumerConfig(opt_start_seq=after[context.stream] + 1),
        }

    def _enqueue(self, queue: asyncio.Queue[StoredEvent], stream: str):  # type: ignore[no-untyped-def]
        # What the read models refuse (eventstore.trust: undecodable, unsigned, untrusted
        # signer, altered, a duplicate version) is no event for a live subscriber either; it
        # used to be streamed as fact, a forgery published with a stream's NATS login included.
        trust, duplicates = trust_of(self._nc), duplicates_of(self._nc)

        async def on_message(msg: Msg) -> None:
            seq = msg.metadata.sequence.stream
            event = read_event(trust, msg.subject, stream, seq, msg.data)
            refused = event.refused or (duplicates.check(event) if duplicates else None)
            if refused is not None:
                log.warning("live events: %s seq %s not streamed: %s", stream, seq, refused)
                return
            await queue.put(event)

        return on_message


def _raise_if_cancelled() -> None:
    """End the stream if it was cancelled while awaiting something that swallowed the
    cancellation (nats-py's flush in `subscribe`; `wait_for` racing a finished task): else it
    would wait on its queue for good and hold the server's shutdown."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
