"""Gather a contracting process's events from the store and export it as OCDS."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from audit.bitemporal import Horizon, valid_order
from audit.folding import Reader
from audit.ocds.packages import record_package, release_package
from audit.ocds.releases import Release, call_off_release, process_releases
from audit.ocds.sections import instant
from contracts_schema.base import DomainEvent
from contracts_schema.enrolment.events import CallOffAwarded, EnrolmentWindowOpened
from contracts_schema.envelope import EventEnvelope
from contracts_schema.folds import typed_event
from contracts_schema.registry.events import ContractSigned, SuccessorTenderLinked
from contracts_schema.subjects import ENROLMENT, REGISTRY, BoundedContext
from eventstore.store import EventStore


async def _of_type(
    store: EventStore, context: BoundedContext, aggregate_type: str, known_at: datetime
) -> list[EventEnvelope]:
    subject = context.aggregate_type_filter(aggregate_type)
    return [
        e.envelope
        async for e in store.read_stream(context, subject_filter=subject)
        if e.envelope.recorded_at <= known_at
    ]


def _typed(e: EventEnvelope) -> DomainEvent | None:
    try:
        return typed_event(e.event_type, e.payload, e.schema_version)
    except (ValidationError, ValueError):
        return None  # not a fact the owner's fold would accept: it names nothing


def _by_aggregate(envelopes: list[EventEnvelope]) -> dict[str, list[EventEnvelope]]:
    groups: dict[str, list[EventEnvelope]] = {}
    for e in envelopes:
        groups.setdefault(e.aggregate_id, []).append(e)
    return groups


@dataclass(frozen=True)
class Exported:
    tender: list[Release]
    call_offs: list[list[Release]]

    @property
    def processes(self) -> list[list[Release]]:
        return [self.tender, *self.call_offs]


async def names_known(store: EventStore, known_at: datetime) -> dict[str, str]:
    """Every organisation's name as the registry knew it at K (the organisation fold)."""
    reader = Reader("enrolment", "organisation")
    organisations = await _of_type(store, ENROLMENT, "organisation", known_at)
    names = {}
    for code, events in _by_aggregate(organisations).items():
        state = reader.replay(code, sorted(events, key=lambda e: e.aggregate_version))
        if state.registered:
            names[code] = state.name
    return names


async def gather(store: EventStore, tender_id: str, at: Horizon) -> Exported:
    """Everything the registry knew at K that was true by D, about one tender."""
    names = await names_known(store, at.known_at)
    tender = [e.envelope for e in (await store.load(REGISTRY, "tender", tender_id)).events]
    window = [
        e.envelope for e in (await store.load(ENROLMENT, "enrolment_window", tender_id)).events
    ]
    contracts = await _of_type(store, REGISTRY, "contract", at.known_at)
    signed = set()
    for e in contracts:
        x = _typed(e)
        if isinstance(x, ContractSigned) and x.tender_id == tender_id:
            signed.add(e.aggregate_id)
    links: list[EventEnvelope] = []
    for e in [
        *await _of_type(store, ENROLMENT, "enrolment_window", at.known_at),
        *await _of_type(store, REGISTRY, "tender", at.known_at),
    ]:
        x = _typed(e)
        if (isinstance(x, EnrolmentWindowOpened) and x.previous_round_tender_id == tender_id) or (
            isinstance(x, SuccessorTenderLinked) and x.successor_tender_id == tender_id
        ):
            links.append(e)
    own = [e for e in [*tender, *window] if e.recorded_at <= at.known_at]
    own += [e for e in contracts if e.aggregate_id in signed]
    releases = process_releases(
        tender_id,
        [e for e in own if at.valid_by(e)],
        names,
        [e for e in links if at.valid_by(e)],
    )
    call_offs = []
    for events in _by_aggregate(await _of_type(store, ENROLMENT, "call_off", at.known_at)).values():
        counted = sorted((e for e in events if at.valid_by(e)), key=valid_order)
        awarded = [x for x in map(_typed, counted) if isinstance(x, CallOffAwarded)]
        if awarded and awarded[0].tender_id == tender_id:
            release = call_off_release(counted, names)
            if release is not None:
                call_offs.append([release])
    return Exported(releases, call_offs)


def packages(exported: Exported, tender_id: str, published: datetime) -> dict[str, Any]:
    stamp = instant(published)
    return {
        "release_package": release_package(
            [r for p in exported.processes for r in p], stamp, tender_id
        ),
        "record_package": record_package(exported.processes, stamp, tender_id),
    }
