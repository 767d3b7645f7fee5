"""Gather contracting processes' events from the store and export them as OCDS.

The register is read once per export (`Register.read`): one tender's export and the bulk
export of every process draw on the same snapshot, as known at K.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from audit.bitemporal import Horizon, valid_order
from audit.folding import Reader
from audit.ocds.packages import (
    Publication,
    graphql_publication,
    record_package,
    release_package,
)
from audit.ocds.releases import Release, call_off_releases, ocid, process_releases
from audit.ocds.sections import instant
from contracts_schema.base import DomainEvent
from contracts_schema.enrolment.events import (
    CallOffAwarded,
    EnrolmentWindowOpened,
    MiniCompetitionStarted,
)
from contracts_schema.envelope import EventEnvelope
from contracts_schema.folds import typed_event
from contracts_schema.registry.events import ContractSigned, SuccessorTenderLinked, TenderPlanned
from contracts_schema.subjects import ENROLMENT, REGISTRY, BoundedContext
from eventstore.known_time import known_by
from eventstore.store import EventStore
from eventstore.trust import Duplicates, trust_of

log = logging.getLogger(__name__)
_LINKS = (EnrolmentWindowOpened.event_type, SuccessorTenderLinked.event_type)


class UnknownProcess(LookupError):
    """No tender, tenderless contract or call-off of that id at this horizon."""


async def _of_type(
    store: EventStore, context: BoundedContext, aggregate_type: str, known_at: datetime
) -> list[EventEnvelope]:
    """The stream's events of one aggregate type known at K, as the read models take them:
    what they refuse (undecodable, unsigned, untrusted signer, altered, a repeated version)
    is left out and logged, never published as a fact of the registry, nor ends the export.
    Before, a forgery published with a stream's NATS login went into the OCDS packages and
    a message that is no envelope failed every export."""
    subject = context.aggregate_type_filter(aggregate_type)
    trust, duplicates = trust_of(getattr(store, "nc", None)), Duplicates()
    kept = []
    async for e in store.read_stream(context, subject_filter=subject, trust=trust):
        refused = e.refused or duplicates.check(e)
        if refused is not None:
            log.warning("OCDS export: %s seq %s left out: %s", e.stream, e.seq, refused)
        else:
            kept.append(e.envelope)
    # Known when it and its aggregate's earlier versions were recorded (`known_time`).
    return known_by(kept, known_at)


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
    process_id: str = ""

    @property
    def processes(self) -> list[list[Release]]:
        return [p for p in [self.tender, *self.call_offs] if p]

    @property
    def empty(self) -> bool:
        return not any(self.processes)


@dataclass
class Register:
    """Every OCDS-relevant event the registry knew at K, grouped once."""

    at: Horizon
    names: dict[str, str]
    tenders: dict[str, list[EventEnvelope]]
    windows: dict[str, list[EventEnvelope]]
    contracts: dict[str, list[EventEnvelope]]
    call_offs: dict[str, list[EventEnvelope]]
    signed: dict[str, ContractSigned] = field(default_factory=dict)  # contract -> its signing
    links: dict[str, list[EventEnvelope]] = field(default_factory=dict)  # naming a tender
    call_offs_of: dict[str, list[str]] = field(default_factory=dict)  # tender -> call-offs

    @classmethod
    async def read(cls, store: EventStore, at: Horizon) -> Register:
        k = at.known_at
        return cls.of(
            at,
            await names_known(store, k),
            [
                *await _of_type(store, REGISTRY, "tender", k),
                *await _of_type(store, ENROLMENT, "enrolment_window", k),
                *await _of_type(store, REGISTRY, "contract", k),
                *await _of_type(store, ENROLMENT, "call_off", k),
            ],
        )

    @classmethod
    def of(cls, at: Horizon, names: dict[str, str], envelopes: list[EventEnvelope]) -> Register:
        """The register of these tender, enrolment window, contract and call-off events."""

        def of_type(aggregate_type: str) -> dict[str, list[EventEnvelope]]:
            return _by_aggregate([e for e in envelopes if e.aggregate_type == aggregate_type])

        register = cls(
            at,
            names,
            of_type("tender"),
            of_type("enrolment_window"),
            of_type("contract"),
            of_type("call_off"),
        )
        for cid, events in register.contracts.items():
            for e in events:
                x = _typed(e)
                if isinstance(x, ContractSigned):
                    register.signed[cid] = x
                    for s in x.suppliers:  # a supplier's name from its contract
                        register.names.setdefault(s.supplier_id, s.name)
        for e in [*(e for es in register.windows.values() for e in es),
                  *(e for es in register.tenders.values() for e in es)]:  # fmt: skip
            x = _typed(e) if e.event_type in _LINKS else None
            named = (
                x.previous_round_tender_id if isinstance(x, EnrolmentWindowOpened)
                else x.successor_tender_id if isinstance(x, SuccessorTenderLinked)
                else None
            )  # fmt: skip
            if named:
                register.links.setdefault(named, []).append(e)
        for call_off_id, events in register.call_offs.items():
            for x in map(_typed, events):
                if isinstance(x, MiniCompetitionStarted | CallOffAwarded):
                    register.call_offs_of.setdefault(x.tender_id, []).append(call_off_id)
                    break
        return register

    def tender_exists(self, tender_id: str) -> bool:
        return any(
            e.event_type == TenderPlanned.event_type for e in self.tenders.get(tender_id, [])
        )

    def process_ids(self) -> Iterator[str]:
        """Every process with a record of its own: each tender, then each contract without
        a tender in the registry (call-offs go with their framework's tender)."""
        yield from sorted(t for t in self.tenders if self.tender_exists(t))
        for cid, x in sorted(self.signed.items()):
            if x.kind != "call_off" and not (x.tender_id and self.tender_exists(x.tender_id)):
                yield cid

    def export(self, process_id: str) -> Exported:
        if self.tender_exists(process_id):
            return self._tender(process_id)
        if process_id in self.call_offs:
            return self._call_off(process_id)
        x = self.signed.get(process_id)
        if x is not None and not (x.tender_id and self.tender_exists(x.tender_id)):
            own = [e for e in self.contracts[process_id] if self.at.valid_by(e)]
            return Exported(process_releases(process_id, own, self.names), [], process_id)
        return Exported([], [], process_id)

    def _call_off(self, call_off_id: str) -> Exported:
        """A call-off alone: its own process, as its framework's tender exports it (a
        call-off is a contract under its own id, so a user asks for it by that id)."""
        tender_id = next((t for t, ids in self.call_offs_of.items() if call_off_id in ids), None)
        if tender_id is None or not self.tender_exists(tender_id):
            return Exported([], [], call_off_id)
        wanted = ocid(call_off_id)
        mine = [p for p in self._tender(tender_id).call_offs if p[0]["ocid"] == wanted]
        return Exported([], mine, call_off_id)

    def _tender(self, tender_id: str) -> Exported:
        at = self.at
        own = [*self.tenders.get(tender_id, []), *self.windows.get(tender_id, [])]
        for cid, x in self.signed.items():
            if x.tender_id == tender_id:
                own += self.contracts[cid]
        links = self.links.get(tender_id, [])
        releases = process_releases(
            tender_id,
            [e for e in own if at.valid_by(e)],
            self.names,
            [e for e in links if at.valid_by(e)],
        )
        call_offs = []
        for call_off_id in sorted(self.call_offs_of.get(tender_id, [])):
            events = self.call_offs[call_off_id]
            counted = sorted((e for e in events if at.valid_by(e)), key=valid_order)
            first = next(
                (
                    x
                    for x in map(_typed, counted)
                    if isinstance(x, MiniCompetitionStarted | CallOffAwarded)
                ),
                None,
            )
            if first is not None and first.tender_id == tender_id:
                found = call_off_releases(counted, self.names)
                if found:
                    call_offs.append(found)
        return Exported(releases, call_offs, tender_id)


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


async def gather(store: EventStore, process_id: str, at: Horizon) -> Exported:
    """Everything the registry knew at K that was true by D, about one tender (or one
    contract without a tender in the registry)."""
    return (await Register.read(store, at)).export(process_id)


def require(exported: Exported, at: Horizon) -> Exported:
    """The export, or a clear refusal: an empty package would fail the schema."""
    if exported.empty:
        raise UnknownProcess(
            f"no tender or contract {exported.process_id!r} known at {instant(at.known_at)}"
            f" with facts by {at.as_of_date.isoformat()}: no OCDS process to export"
        )
    return exported


def packages(
    exported: Exported,
    tender_id: str,
    published: datetime,
    publication: Publication | None = None,
) -> dict[str, Any]:
    stamp = instant(published)
    # Not told where the packages live: the configured base, else the gateway's request.
    how = publication or graphql_publication(tender_id, None, published)
    return {
        "release_package": release_package(
            [r for p in exported.processes for r in p], stamp, tender_id, how
        ),
        "record_package": record_package(exported.processes, stamp, tender_id, how),
    }


__all__ = ["Exported", "Register", "UnknownProcess", "gather", "names_known", "ocid",
           "packages", "require"]  # fmt: skip
