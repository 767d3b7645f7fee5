"""Events of the tender aggregate before the award: plan, notices, publication, pauses."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import Field

from contracts_schema.base import DomainEvent, Identifier
from contracts_schema.registry.values import Lot, OrganisationCode, Procedure


class TenderEvent(DomainEvent):
    aggregate_type: ClassVar[str] = "tender"
    context: ClassVar[str] = "registry"

    tender_id: Identifier = Field(description="Tender id; also the enrolment window's id.")


class TenderPlanned(TenderEvent):
    """A tender was planned, with its lots."""

    programme_id: Identifier | None = Field(default=None, description="Programme it belongs to.")
    title: str = Field(min_length=1, description="Title of the tender.")
    contracting_authority: OrganisationCode = Field(description="Body that runs the tender.")
    procedure: Procedure = Field(description="Procurement procedure.")
    framework: bool = Field(description="True when the tender leads to a framework agreement.")
    lots: list[Lot] = Field(min_length=1, description="Lots (percelen / clusters).")
    planned_on: date = Field(description="Date the tender was planned.")
    contracting_authority_name: str | None = Field(
        default=None,
        max_length=300,
        description="The contracting authority's name as published, for one published by"
        " name only (imported OCDS data: its code, XX-NAMED-..., is derived from this name)."
        " Absent otherwise: a registered body's name is the organisation's.",
    )
    procedure_stated: bool = Field(
        default=True,
        description="False when the procedure is the registry's default, not a published"
        " fact: imported OCDS data that stated no procurementMethod (recorded as national,"
        " which the procurement rules need). The OCDS export leaves such a procedure out.",
    )
    tender_period_planned_on: date | None = Field(
        default=None,
        description="The day the tender period is planned to start, as a published plan"
        " states it (imported OCDS data: a planned tender's tenderPeriod.startDate); the"
        " publication itself is TenderPublished.",
    )
    title_stated: bool = Field(
        default=True,
        description="False when the title is the registry's default, not a published fact:"
        " imported OCDS data that stated no tender.title (recorded titled by its ocid; a"
        " tender without lots gives its one lot that title, not stated either). The OCDS"
        " export leaves such a title out.",
    )
    untitled_lot_ids: list[Identifier] = Field(
        default_factory=list,
        description="Lots whose title is the registry's default, not a published fact:"
        " imported OCDS data that stated no title for them (each recorded titled by its id)."
        " The OCDS export leaves such a title out. Empty for every native tender.",
    )


class TenderPlanRevised(TenderEvent):
    """A published plan was revised before the tender's publication: its tender period is
    now planned to start on another day (imported OCDS data: a later planning release that
    states a tenderPeriod.startDate the planning did not, or another one)."""

    tender_period_planned_on: date = Field(
        description="The day the tender period is now planned to start."
    )
    revised_on: date = Field(description="Date of the revision (its release's day).")


class TenderRestated(TenderEvent):
    """A later published release restated the tender (imported OCDS data only): the fields
    it gives replace the recorded ones, the others are unchanged. What a publisher said and
    when: its title, framework flag, procedure, lot titles or tender period start changed
    after they were recorded (the registry's own tenders are changed by notices, whose
    `TenderCorrected` records no changed field)."""

    restated_on: date = Field(description="Date of the restatement (its release's day).")
    title: str | None = Field(default=None, min_length=1, description="The tender's title.")
    title_stated: bool | None = Field(
        default=None,
        description="False when the source no longer states a title: the recorded one stays"
        " (GraphQL and the readers show it) but is not a published fact any more. A title"
        " given is stated.",
    )
    framework: bool | None = Field(
        default=None, description="Whether the tender leads to a framework agreement."
    )
    procedure: Procedure | None = Field(
        default=None, description="The procedure now stated (it replaces the recorded one)."
    )
    procedure_stated: bool | None = Field(
        default=None,
        description="False when the source no longer states a procedure: the recorded one"
        " stays (the procurement rules need one) but is not a published fact any more.",
    )
    lots: list[Lot] = Field(
        default_factory=list, description="Lots whose title changed (stated, if it was not)."
    )
    untitled_lot_ids: list[Identifier] = Field(
        default_factory=list,
        description="Lots whose title the source no longer states: the recorded one stays,"
        " not a published fact any more.",
    )
    tender_period_start: date | None = Field(
        default=None,
        description="The tender period's start now stated: the publication day of a"
        " published tender, else the plan's start.",
    )
    tender_period_start_cleared: bool = Field(
        default=False,
        description="True when the source no longer states a tender period start: a"
        " published tender's publication day is then not a published fact, a plan has no"
        " start.",
    )


class PriorInformationNoticePublished(TenderEvent):
    """A prior information notice (vooraankondiging) announced the coming tender."""

    published_on: date = Field(description="Date of the notice.")
    notice_reference: str = Field(min_length=1, description="Reference of the notice.")


class MarketConsultationHeld(TenderEvent):
    """A market consultation (marktconsultatie) was held before publication."""

    started_on: date = Field(description="First day of the consultation.")
    ended_on: date = Field(description="Last day of the consultation.")
    summary: str = Field(min_length=1, description="What was consulted and learned.")


class TenderPublished(TenderEvent):
    """The tender was announced (TenderNed, EU notice) against a frozen participant list."""

    published_on: date = Field(description="Date of publication.")
    notice_reference: str = Field(min_length=1, description="TenderNed / TED reference.")
    participant_list_frozen_on: date = Field(
        description="Date the enrolment service froze the participant list it refers to."
    )
    participant_codes: list[str] = Field(
        default_factory=list, description="Organisation codes on the frozen participant list."
    )
    published_on_stated: bool = Field(
        default=True,
        description="False when the publication day is the registry's default, not a"
        " published fact: imported OCDS data that published a tender without a"
        " tenderPeriod.startDate is recorded as published on its release's day. The OCDS"
        " export leaves such a day out.",
    )
    procedure: Procedure | None = Field(
        default=None,
        description="The procedure as published with the tender, when it is not the one"
        " planned or the planned one was not stated (imported OCDS data: a planning release"
        " without procurementMethod, then a tender release that states it). It replaces the"
        " planned procedure, as stated. Absent: the procedure is the planned one.",
    )


class TenderCorrected(TenderEvent):
    """A correction (rectificatie) to the published tender documents."""

    corrected_on: date = Field(description="Date of the correction.")
    notice_reference: str | None = Field(default=None, description="Reference of the notice.")
    summary: str = Field(min_length=1, description="What was corrected.")


class TenderClarified(TenderEvent):
    """Questions answered in a clarification (nota van inlichtingen)."""

    clarified_on: date = Field(description="Date of the clarification.")
    summary: str = Field(min_length=1, description="What was clarified.")


class TenderPaused(TenderEvent):
    """The tender was paused (e.g. for re-evaluation)."""

    paused_on: date = Field(description="Date the pause began.")
    reason: str = Field(min_length=1, description="Why it was paused.")


class TenderResumed(TenderEvent):
    """A paused tender was resumed."""

    resumed_on: date = Field(description="Date it was resumed.")
    reason: str | None = Field(default=None, description="Why it resumed.")


class LotCancelled(TenderEvent):
    """One lot of the tender was cancelled; it can no longer be awarded."""

    lot_id: Identifier = Field(description="The cancelled lot.")
    cancelled_on: date = Field(description="Date of the cancellation.")
    reason: str = Field(min_length=1, description="Why the lot was cancelled.")


class TenderCancelled(TenderEvent):
    """The whole tender was stopped for good; its open lots can no longer be awarded."""

    cancelled_on: date = Field(description="Date of the cancellation.")
    reason: str = Field(min_length=1, description="Why the tender was cancelled.")
    lot_ids: list[Identifier] = Field(description="Lots cancelled with it (not yet awarded).")


class SuccessorTenderLinked(TenderEvent):
    """A successor tender was named (e.g. GT Mobiele Communicatie 1 -> 3)."""

    successor_tender_id: Identifier = Field(description="The tender that succeeds this one.")
    linked_on: date = Field(description="Date the link became true.")


TENDER_EVENTS: tuple[type[DomainEvent], ...] = (
    TenderPlanned,
    TenderPlanRevised,
    TenderRestated,
    PriorInformationNoticePublished,
    MarketConsultationHeld,
    TenderPublished,
    TenderCorrected,
    TenderClarified,
    TenderPaused,
    TenderResumed,
    LotCancelled,
    TenderCancelled,
    SuccessorTenderLinked,
)
