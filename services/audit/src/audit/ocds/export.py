"""Gather a contracting process's events from the store and export it as OCDS."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from audit.bitemporal import Horizon
from audit.ocds.packages import record_package, release_package
from audit.ocds.releases import Release, call_off_release, instant, process_releases
from contracts_schema.envelope import EventEnvelope
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


@dataclass(frozen=True)
class Exported:
    tender: list[Release]
    call_offs: list[list[Release]]

    @property
    def processes(self) -> list[list[Release]]:
        return [self.tender, *self.call_offs]


async def gather(store: EventStore, tender_id: str, at: Horizon) -> Exported:
    """Everything the registry knew at K that was true by D, about one tender."""
    names: dict[str, str] = {}
    for e in sorted(await _of_type(store, ENROLMENT, "organisation", at.known_at), key=_when):
        if e.event_type in ("OrganisationRegistered", "OrganisationRenamed"):
            names[e.payload.get("code", e.aggregate_id)] = e.payload["name"]
    tender = [e.envelope for e in (await store.load(REGISTRY, "tender", tender_id)).events]
    window = [
        e.envelope for e in (await store.load(ENROLMENT, "enrolment_window", tender_id)).events
    ]
    contracts = await _of_type(store, REGISTRY, "contract", at.known_at)
    signed = {
        e.aggregate_id
        for e in contracts
        if e.event_type == "ContractSigned" and e.payload.get("tender_id") == tender_id
    }
    windows = await _of_type(store, ENROLMENT, "enrolment_window", at.known_at)
    tenders = await _of_type(store, REGISTRY, "tender", at.known_at)
    links = [
        e
        for e in windows
        if e.event_type == "EnrolmentWindowOpened"
        and e.payload.get("previous_round_tender_id") == tender_id
    ] + [
        e
        for e in tenders
        if e.event_type == "SuccessorTenderLinked"
        and e.payload.get("successor_tender_id") == tender_id
    ]
    own = [e for e in [*tender, *window] if e.recorded_at <= at.known_at]
    own += [e for e in contracts if e.aggregate_id in signed]
    releases = process_releases(
        tender_id,
        [e for e in own if e.occurred_at <= at.as_of],
        names,
        [e for e in links if e.occurred_at <= at.as_of],
    )
    call_offs = [
        [call_off_release(e, names)]
        for e in await _of_type(store, ENROLMENT, "call_off", at.known_at)
        if e.event_type == "CallOffAwarded"
        and e.payload.get("tender_id") == tender_id
        and e.occurred_at <= at.as_of
    ]
    return Exported(releases, call_offs)


def _when(e: EventEnvelope) -> tuple[datetime, int]:
    return (e.recorded_at, e.aggregate_version)


def packages(exported: Exported, tender_id: str, published: datetime) -> dict[str, Any]:
    stamp = instant(published)
    return {
        "release_package": release_package(
            [r for p in exported.processes for r in p], stamp, tender_id
        ),
        "record_package": record_package(exported.processes, stamp, tender_id),
    }
