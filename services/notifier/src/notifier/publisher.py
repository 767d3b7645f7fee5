"""Publishes integration events to the INTEGRATION stream, each once.

One shared durable consumer per source stream (all notifier instances pull from it, so a
restarted or additional instance resumes where the group stopped instead of starting over).
A message is acked only after its integration events were stored; a redelivery republishes
with the same `Nats-Msg-Id` inside the stream's duplicate window and the broker drops it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import date

from nats.aio.client import Client as NATS
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError
from sqlalchemy import Connection, Engine, select

from contracts_schema.calendar import dutch_day
from contracts_schema.catalogue import EVENT_TYPES
from contracts_schema.enrolment.events import OrganisationRegistered
from contracts_schema.subjects import ENROLMENT, NOTIFIER, REGISTRY
from contracts_schema.upcasting import decode_envelope
from eventstore.projection import ProjectionRunner
from eventstore.store import EventStore, StoredEvent, differs
from eventstore.subscription import DurableSubscriber
from notifier.feed import (
    INTEGRATION_STREAM,
    INTEGRATION_SUBJECTS,
    Outgoing,
    consumer_name,
    org_filters,
    outgoing,
)
from notifier.projection import NotifierSchedule
from notifier.ticker import catch_up

log = logging.getLogger(__name__)
SOURCES = (REGISTRY, ENROLMENT, NOTIFIER)


async def ensure_integration_stream(
    nc: NATS, *, replicas: int = 1, duplicate_window: float = 3600.0
) -> None:
    config = StreamConfig(
        name=INTEGRATION_STREAM,
        subjects=INTEGRATION_SUBJECTS,
        storage=StorageType.FILE,
        num_replicas=replicas,
        duplicate_window=duplicate_window,
        allow_direct=True,
    )
    js = nc.jetstream()
    try:
        info = await js.stream_info(INTEGRATION_STREAM)
    except NotFoundError:
        await js.add_stream(config)
        return
    if differs(info.config, config):  # reconfiguring needs the operator's NATS user
        await js.update_stream(config)


async def ensure_organisation_consumer(nc: NATS, code: str) -> None:
    """The durable consumer an organisation's credentials may read (filters fixed here)."""
    config = ConsumerConfig(
        durable_name=consumer_name(code),
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        filter_subjects=org_filters(code),
        max_ack_pending=1000,
        ack_wait=30,
    )
    await nc.jetstream().add_consumer(INTEGRATION_STREAM, config)


class _SqlDirectory:
    """The read model, for one source event: its recipients as of the day it was recorded
    (the day the news is told)."""

    def __init__(self, conn: Connection, projection: NotifierSchedule, on: date) -> None:
        self._conn = conn
        self._projection = projection
        self._on = on

    def recipients(self, contract_id: str) -> tuple[str, ...]:
        return self._projection.recipients(self._conn, contract_id, self._on)

    def tender_title(self, tender_id: str) -> tuple[str | None, bool]:
        t = self._projection.tenders
        row = self._conn.execute(
            select(t.c.title, t.c.title_stated).where(t.c.tender_id == tender_id)
        ).first()
        if row is None:
            return None, True  # not known
        # A title not stated is the registry's default (the ocid): not sent (import32).
        return (str(row.title) if row.title_stated else None), bool(row.title_stated)


class IntegrationPublisher:
    def __init__(
        self,
        nc: NATS,
        store: EventStore,
        engine: Engine,
        projection: NotifierSchedule,
        runner: ProjectionRunner,
        *,
        replicas: int = 1,
        ack_wait: float = 30.0,
    ) -> None:
        self._nc = nc
        self._store = store
        self._engine = engine
        self._projection = projection
        self._runner = runner
        self._replicas = replicas
        self._ack_wait = ack_wait
        self._subscribers: list[DurableSubscriber] = []
        self._known_consumers: set[str] = set()
        self.published = 0

    async def start(self) -> None:
        await ensure_integration_stream(self._nc, replicas=self._replicas)
        for context in SOURCES:
            await self._store.ensure_stream(context)
            name = f"notifier_integration_{context.stream}"
            # Created here so the ack wait is ours: an instance that dies holding a batch
            # hands it to the others after `ack_wait` (republished, deduplicated by Msg-Id).
            await self._nc.jetstream().add_consumer(
                context.stream,
                ConsumerConfig(
                    durable_name=name,
                    ack_policy=AckPolicy.EXPLICIT,
                    deliver_policy=DeliverPolicy.ALL,
                    filter_subject=context.event_subjects,
                    max_ack_pending=10_000,
                    ack_wait=self._ack_wait,
                ),
            )
            subscriber = DurableSubscriber(self._nc, context, name, self._handle, batch=64)
            subscriber.start()
            self._subscribers.append(subscriber)

    async def stop(self) -> None:
        for subscriber in self._subscribers:
            await subscriber.stop()
        self._subscribers.clear()

    async def wait_drained(self, timeout: float = 10.0) -> bool:
        """True once every source event so far has been published and acked."""
        js = self._nc.jetstream()
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            busy = 0
            for context in SOURCES:
                info = await js.consumer_info(
                    context.stream, f"notifier_integration_{context.stream}"
                )
                busy += int(info.num_pending or 0) + int(info.num_ack_pending or 0)
            if busy == 0:
                return True
            if asyncio.get_running_loop().time() > deadline:
                return False
            await asyncio.sleep(0.05)

    async def _ensure_consumer(self, code: str) -> None:
        if code not in self._known_consumers:
            await ensure_organisation_consumer(self._nc, code)
            self._known_consumers.add(code)

    def _map(self, events: list[StoredEvent]) -> list[Outgoing]:
        result = []
        with self._engine.connect() as conn:
            for event in events:
                if event.envelope.event_type not in EVENT_TYPES:
                    continue
                fact = decode_envelope(event.envelope)
                on = dutch_day(event.envelope.recorded_at)
                directory = _SqlDirectory(conn, self._projection, on)
                result.extend(outgoing(event.envelope, fact, directory))
        return result

    async def _handle(self, events: list[StoredEvent]) -> None:
        # What readers may not take as fact (eventstore.trust) is no one's news: the read
        # models park it, and health reports it there.
        for event in events:
            if event.refused is not None:
                log.warning("feed skips %s seq %s: %s", event.stream, event.seq, event.refused)
        events = [event for event in events if event.refused is None]
        # Recipients come from the read model: let it see these events (and what preceded
        # them in the other streams) first.
        await catch_up(self._store, self._runner)
        js = self._nc.jetstream()
        for event in events:
            model = EVENT_TYPES.get(event.envelope.event_type)
            if model is OrganisationRegistered:  # a new body gets its consumer at once
                registered = decode_envelope(event.envelope)
                if isinstance(registered, OrganisationRegistered):
                    await self._ensure_consumer(registered.code)
        for out in await asyncio.to_thread(self._map, events):
            code = out.subject.split(".")[2] if out.subject.startswith("gt.org.") else None
            if code:
                await self._ensure_consumer(code)
            body = json.dumps(out.event.model_dump(mode="json"), sort_keys=True).encode()
            await js.publish(
                out.subject,
                body,
                stream=INTEGRATION_STREAM,
                headers={"Nats-Msg-Id": out.msg_id, "ce-type": out.event.type},
            )
            self.published += 1
