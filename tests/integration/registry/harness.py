"""Drive the registry service over NATS the way a coordinator's client does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from nats.aio.client import Client as NATS

from bootstrap.serve import registry_app
from contracts_schema.base import Command
from contracts_schema.calendar import DUTCH_TIME
from contracts_schema.enrolment.events import (
    EnrolmentWindowOpened,
    OrganisationRegistered,
    Participant,
    ParticipantListFrozen,
)
from contracts_schema.replies import CommandAccepted, CommandRejected
from contracts_schema.subjects import ENROLMENT, REGISTRY
from eventstore.clock import FixedClock
from eventstore.observability import ObservabilitySettings
from eventstore.serving import send_command
from eventstore.settings import NatsSettings
from eventstore.store import CommandMetadata, EventStore, NewEvent, StoredEvent
from eventstore.testing.fixtures import connect

RECORDED_AT = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)  # history is loaded long after the fact

# The organisations these tests name: the registry requires each registered (by enrolment).
ORGANISATIONS = {
    "KVK-71830960": "LNVT",
    "KVK-27351236": "Logius",
    "KVK-40409352": "VNG",
    "KVK-27124701": "KPN B.V.",
    "KVK-33294618": "Tele2 Nederland B.V.",
    "KVK-14052264": "Vodafone Libertel B.V.",
    "KVK-11111111": "Zittende Operator B.V.",
    "GM0363": "Amsterdam",
    "GM0518": "'s-Gravenhage",
}


def on(day: date) -> datetime:
    return datetime.combine(day, time(10, 0), tzinfo=DUTCH_TIME)


@asynccontextmanager
async def running_registry(url: str, clock: FixedClock) -> AsyncIterator[None]:
    app, _broker = registry_app(
        NatsSettings(nats_url=url), clock, ObservabilitySettings(metrics_port=-1)
    )
    await app.start()
    try:
        nc = await connect(url)
        try:
            await register_organisations(EventStore(nc, clock), ORGANISATIONS)
        finally:
            await nc.close()
        yield
    finally:
        await app.stop()


async def register_organisations(store: EventStore, names: dict[str, str]) -> None:
    """Stand-in for the enrolment service: register the organisations (once)."""
    await store.ensure_stream(ENROLMENT)
    for code, name in names.items():
        history = await store.load(ENROLMENT, "organisation", code)
        if history.events:
            continue
        kind = "municipality" if code.startswith("GM") else "supplier"
        event = OrganisationRegistered(code=code, name=name, kind=kind)
        new = NewEvent(
            event.event_type,
            event.schema_version,
            event.model_dump(mode="json"),
            on(date(2000, 1, 1)),
        )
        meta = CommandMetadata(f"register-{code}", "enrolment-fixture", code)
        await store.append(history, [new], meta)


async def freeze_participants(
    store: EventStore, tender_id: str, frozen_on: date, participants: dict[str, list[str]]
) -> None:
    """Stand-in for the enrolment service: open a window and freeze its list."""
    lot_ids = sorted({lot for lots in participants.values() for lot in lots})
    await store.ensure_stream(ENROLMENT)
    if not (await store.load(ENROLMENT, "enrolment_window", tender_id)).events:
        await open_window(store, tender_id, lot_ids, frozen_on)
    frozen = ParticipantListFrozen(
        tender_id=tender_id,
        frozen_on=frozen_on,
        participants=[
            Participant(organisation_code=c, lot_ids=ls) for c, ls in participants.items()
        ],
    )
    await _append_enrolment(store, tender_id, frozen, frozen_on)


async def open_window(
    store: EventStore, tender_id: str, lot_ids: list[str], closes_on: date
) -> None:
    opened = EnrolmentWindowOpened(
        tender_id=tender_id,
        lot_ids=lot_ids,
        opens_on=date(closes_on.year, 1, 1),
        closes_on=closes_on,
    )
    await _append_enrolment(store, tender_id, opened, date(closes_on.year, 1, 1))


async def _append_enrolment(store: EventStore, tender_id: str, event: Any, day: date) -> None:
    await store.ensure_stream(ENROLMENT)
    history = await store.load(ENROLMENT, "enrolment_window", tender_id)
    new = NewEvent(event.event_type, event.schema_version, event.model_dump(mode="json"), on(day))
    meta = CommandMetadata(f"enrol-{event.event_type}-{tender_id}", "enrolment-fixture", tender_id)
    await store.append(history, [new], meta)


@dataclass
class Coordinator:
    nc: NATS

    async def send(self, command: Command) -> CommandAccepted | CommandRejected:
        return await send_command(self.nc, REGISTRY, command, actor="coordinator")

    async def accept(self, command: Command) -> CommandAccepted:
        reply = await self.send(command)
        assert isinstance(reply, CommandAccepted), f"{command.command_type}: {reply}"
        return reply

    async def reject(self, command: Command, code: str) -> CommandRejected:
        reply = await self.send(command)
        assert isinstance(reply, CommandRejected), f"{command.command_type} was accepted"
        assert reply.code == code, reply.message
        return reply


async def history(store: EventStore, aggregate_type: str, aggregate_id: str) -> list[StoredEvent]:
    return list((await store.load(REGISTRY, aggregate_type, aggregate_id)).events)


def types(events: list[StoredEvent]) -> list[str]:
    return [e.envelope.event_type for e in events]
