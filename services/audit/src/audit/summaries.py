"""One readable sentence per event, for timelines."""
# ruff: noqa: E501  (one sentence per line reads better than wrapped f-strings)

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from contracts_schema.envelope import EventEnvelope


class _Change(Protocol):
    @property
    def path(self) -> str: ...
    @property
    def after(self) -> Any: ...


def _join(values: Any) -> str:
    return ", ".join(str(v) for v in values or []) or "nobody"


SENTENCES: dict[str, Callable[[dict[str, Any]], str]] = {
    "TenderPlanned": lambda p: (
        f"tender {p.get('title')!r} planned by {p.get('contracting_authority')}"
    ),
    "TenderPublished": lambda p: (
        f"published on {p.get('published_on')} as {p.get('notice_reference')}"
    ),
    "ProvisionalAwardDecided": lambda p: (
        f"lot {p.get('lot_id')} provisionally awarded to {_join(p.get('supplier_ids'))}; "
        f"standstill until {p.get('standstill_ends_on')}"
    ),
    "AwardMadeDefinitive": lambda p: (
        f"lot {p.get('lot_id')} definitively awarded to {_join(p.get('supplier_ids'))} "
        f"on {p.get('awarded_on')}"
    ),
    "ProvisionalAwardRevised": lambda p: (
        f"lot {p.get('lot_id')} provisional award revised from {_join(p.get('previous_supplier_ids'))} "
        f"to {_join(p.get('supplier_ids'))}: {p.get('reason')}; standstill until {p.get('standstill_ends_on')}"
    ),
    "ProvisionalAwardWithdrawn": lambda p: (
        f"lot {p.get('lot_id')} provisional award withdrawn: {p.get('reason')}"
    ),
    "StandstillEnded": lambda p: f"lot {p.get('lot_id')} standstill ended on {p.get('ended_on')}",
    "TenderCancelled": lambda p: f"tender cancelled on {p.get('cancelled_on')}: {p.get('reason')}",
    "TenderPaused": lambda p: f"tender paused on {p.get('paused_on')}: {p.get('reason')}",
    "TenderResumed": lambda p: f"tender resumed on {p.get('resumed_on')}",
    "TenderCorrected": lambda p: (
        f"tender notice corrected on {p.get('corrected_on')}: {p.get('summary')}"
    ),
    "SuccessorTenderLinked": lambda p: f"succeeded by tender {p.get('successor_tender_id')}",
    "LotCancelled": lambda p: (
        f"lot {p.get('lot_id')} cancelled on {p.get('cancelled_on')}: {p.get('reason')}"
    ),
    "ContractSigned": lambda p: (
        f"{p.get('kind')} signed on {p.get('signed_on')} by {p.get('contracting_authority')}, "
        f"running {p.get('start_date')} to {p.get('end_date')}"
    ),
    "ContractExtended": lambda p: f"extended to {p.get('new_end_date')}",
    "ContractAmended": lambda p: f"amended: {p.get('summary')}",
    "ContractTransferred": lambda p: (
        f"transferred from {p.get('from_authority')} to {p.get('to_authority')} "
        f"on {p.get('transferred_on')}"
    ),
    "ContractTerminated": lambda p: f"terminated on {p.get('terminated_on')}: {p.get('reason')}",
    "ContractExpired": lambda p: f"expired on {p.get('expired_on')}",
    "OrganisationRegistered": lambda p: f"{p.get('name')} ({p.get('code')}) registered",
    "OrganisationRenamed": lambda p: f"renamed to {p.get('name')}",
    "MunicipalityMerged": lambda p: (
        f"merged into {p.get('successor_code')} on {p.get('effective_on')}"
    ),
    "EnrolmentWindowOpened": lambda p: (
        f"enrolment open {p.get('opens_on')} to {p.get('closes_on')}"
    ),
    "EnrolmentWindowExtended": lambda p: f"enrolment extended to {p.get('closes_on')}",
    "ParticipantEnrolled": lambda p: (
        f"{p.get('organisation_code')} enrolled for lots {_join(p.get('lot_ids'))}"
    ),
    "ParticipantWithdrawn": lambda p: f"{p.get('organisation_code')} withdrew",
    "ParticipantListFrozen": lambda p: (
        f"participant list frozen on {p.get('frozen_on')} with {len(p.get('participants', []))} participants"
    ),
    "CallOffAwarded": lambda p: (
        f"{p.get('participant_code')} called off lot {p.get('lot_id')} from {p.get('supplier_id')} "
        f"({p.get('procedure')})"
    ),
}


def summarise(envelope: EventEnvelope, changes: Sequence[_Change]) -> str:
    sentence = SENTENCES.get(envelope.event_type)
    if sentence is not None:
        try:
            return sentence(envelope.payload)
        except (AttributeError, TypeError):
            pass
    changed = ", ".join(f"{c.path} -> {c.after!r}" for c in changes[:5])
    return f"{envelope.event_type}: {changed or 'no visible change'}"
