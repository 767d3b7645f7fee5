"""One readable sentence per typed event, for timelines."""
# ruff: noqa: E501  (one sentence per line reads better than wrapped f-strings)

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from contracts_schema.base import DomainEvent
from contracts_schema.enrolment import events as en
from contracts_schema.registry import events as rg


class _Change(Protocol):
    @property
    def path(self) -> str: ...
    @property
    def after(self) -> Any: ...


def _join(values: Iterable[Any]) -> str:
    return ", ".join(str(v) for v in values) or "nobody"


# Keyed by the event class: a sentence reads the typed event, never a payload dict.
SENTENCES: dict[type[DomainEvent], Callable[[Any], str]] = {
    rg.ProgrammePlanned: lambda e: f"programme {e.name!r} planned by {e.coordinator}",
    rg.SuccessorProgrammeLinked: lambda e: f"succeeded by programme {e.successor_programme_id}",
    rg.TenderPlanned: lambda e: f"tender {e.title!r} planned by {e.contracting_authority}",
    rg.TenderPlanRevised: lambda e: (
        f"plan revised on {e.revised_on}: tender period to start {e.tender_period_planned_on}"
    ),
    rg.TenderRestated: lambda e: _restated(e),
    rg.PriorInformationNoticePublished: lambda e: (
        f"prior information notice {e.notice_reference} published on {e.published_on}"
    ),
    rg.MarketConsultationHeld: lambda e: (
        f"market consultation {e.started_on} to {e.ended_on}: {e.summary}"
    ),
    rg.TenderPublished: lambda e: f"published on {e.published_on} as {e.notice_reference}",
    rg.TenderCorrected: lambda e: f"tender notice corrected on {e.corrected_on}: {e.summary}",
    rg.TenderClarified: lambda e: f"tender clarified on {e.clarified_on}: {e.summary}",
    rg.TenderPaused: lambda e: f"tender paused on {e.paused_on}: {e.reason}",
    rg.TenderResumed: lambda e: f"tender resumed on {e.resumed_on}",
    rg.LotCancelled: lambda e: f"lot {e.lot_id} cancelled on {e.cancelled_on}: {e.reason}",
    rg.TenderCancelled: lambda e: f"tender cancelled on {e.cancelled_on}: {e.reason}",
    rg.SuccessorTenderLinked: lambda e: f"succeeded by tender {e.successor_tender_id}",
    rg.BidsRecorded: lambda e: (
        f"lot {e.lot_id}: {e.bid_count} bid{'' if e.bid_count == 1 else 's'} received on"
        f" {e.received_on}"
    ),
    rg.ProvisionalAwardDecided: lambda e: (
        f"lot {e.lot_id} provisionally awarded to {_join(e.supplier_ids)}; standstill until {e.standstill_ends_on}"
    ),
    rg.ProvisionalAwardRevised: lambda e: (
        f"lot {e.lot_id} provisional award revised from {_join(e.previous_supplier_ids)} to {_join(e.supplier_ids)}: {e.reason}; standstill until {e.standstill_ends_on}"
    ),
    rg.ProvisionalAwardWithdrawn: lambda e: (
        f"lot {e.lot_id} provisional award withdrawn: {e.reason}"
    ),
    rg.ReviewProceedingsStarted: lambda e: (
        f"lot {e.lot_id} award challenged before {e.forum} on {e.started_on}"
    ),
    rg.ReviewProceedingsConcluded: lambda e: (
        f"lot {e.lot_id} review concluded on {e.concluded_on}: {e.outcome}"
    ),
    rg.StandstillEnded: lambda e: f"lot {e.lot_id} standstill ended on {e.ended_on}",
    rg.AwardMadeDefinitive: lambda e: (
        f"lot {e.lot_id} definitively awarded to {_join(e.supplier_ids)} on {e.awarded_on}"
    ),
    rg.ContractSigned: lambda e: (
        f"{e.kind} signed on {e.signed_on} by {e.contracting_authority}, running {e.start_date}"
        + (f" to {e.end_date}" if e.end_stated else ", no end stated")
    ),
    rg.ContractExtended: lambda e: f"extended to {e.new_end_date}",
    rg.ContractAmended: lambda e: f"amended: {e.summary}",
    rg.ContractRestated: lambda e: (
        "restated (imported): "
        + ", ".join(
            [
                *([f"signed on {e.signed_on}"] if e.signed_on else []),
                *([f"starting {e.start_date}"] if e.start_date else []),
                *(["no maximum extent stated"] if e.max_extent_cleared else []),
                *(["no value stated"] if e.value_cleared else []),
                *(["no signing day stated"] if e.signed_on_cleared else []),
                *(["no start stated"] if e.start_cleared else []),
                *([f"ending {e.end_date}"] if e.end_date else []),
                *(["no end stated"] if e.end_cleared else []),
            ]
        )
    ),
    rg.ContractTransferred: lambda e: (
        f"transferred from {e.from_authority} to {e.to_authority} on {e.transferred_on}"
    ),
    rg.ContractTerminated: lambda e: f"terminated on {e.terminated_on}: {e.reason}",
    rg.ContractExpired: lambda e: f"expired on {e.expired_on}",
    en.OrganisationRegistered: lambda e: f"{e.name} ({e.code}) registered",
    en.OrganisationRenamed: lambda e: f"renamed to {e.name}",
    en.MunicipalityMerged: lambda e: f"merged into {e.successor_code} on {e.effective_on}",
    en.EnrolmentWindowOpened: lambda e: f"enrolment open {e.opens_on} to {e.closes_on}",
    en.EnrolmentWindowExtended: lambda e: f"enrolment extended to {e.closes_on}",
    en.ParticipantEnrolled: lambda e: f"{e.organisation_code} enrolled for lots {_join(e.lot_ids)}",
    en.ParticipantWithdrawn: lambda e: f"{e.organisation_code} withdrew",
    en.ParticipantListFrozen: lambda e: (
        f"participant list frozen on {e.frozen_on} with {len(e.participants)} participants"
    ),
    en.MiniCompetitionStarted: lambda e: (
        f"{e.participant_code} started a mini-competition for lot {e.lot_id} among {_join(e.invited_supplier_ids)}"
    ),
    en.CallOffAwarded: lambda e: (
        f"{e.participant_code} called off lot {e.lot_id} from {e.supplier_id} ({e.procedure})"
    ),
}


def _restated(e: rg.TenderRestated) -> str:
    """What a later published release restated of an imported tender (import20)."""
    said = [f"title {e.title!r}"] if e.title is not None else []
    if e.title_stated is False:
        said.append("no title stated")
    if e.framework is not None:
        said.append("a framework" if e.framework else "not a framework")
    if e.procedure is not None:
        said.append(f"procedure {e.procedure}")
    elif e.procedure_stated is False:
        said.append("no procedure stated")
    said += [f"lot {lot.lot_id} titled {lot.title!r}" for lot in e.lots]
    said += [f"lot {lot_id} without a title stated" for lot_id in e.untitled_lot_ids]
    if e.tender_period_start is not None:
        said.append(f"tender period from {e.tender_period_start}")
    elif e.tender_period_start_cleared:
        said.append("no tender period start stated")
    return f"restated on {e.restated_on}: {', '.join(said) or 'nothing changed'}"


def summarise(
    event_type: str, event: DomainEvent | None, changes: Sequence[_Change], refused: str | None
) -> str:
    if refused is not None:
        return f"{event_type} not applied: {refused}"
    sentence = SENTENCES.get(type(event)) if event is not None else None
    if sentence is not None:
        return sentence(event)
    changed = ", ".join(f"{c.path} -> {c.after!r}" for c in changes[:5])
    return f"{event_type}: {changed or 'no visible change'}"
