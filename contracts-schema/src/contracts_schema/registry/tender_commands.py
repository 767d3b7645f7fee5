"""Commands on programmes and on tenders before the award.

Dates of facts come from `occurred_at` (valid time, default now) unless a command names
a period of its own (a consultation, a contract term).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator

from contracts_schema.base import Command, Identifier
from contracts_schema.bounds import MAX_LOTS, Day, FreeText, Name
from contracts_schema.registry.values import LotInput, OrganisationRef, Procedure, accepts_values


class _RegistryCommand(Command):
    context: ClassVar[str] = "registry"


class PlanProgramme(_RegistryCommand):
    """Plan a programme of joint procurements."""

    programme_id: Identifier = Field(description="Client-chosen programme id, e.g. OT2010.")
    name: Name = Field(description="Programme name.")
    coordinator: OrganisationRef = Field(description="Body that runs the programme.")
    predecessor_programme_id: Identifier | None = Field(
        default=None, description="The programme this one succeeds."
    )
    description: FreeText | None = Field(default=None, description="Free text about its scope.")


class LinkSuccessorProgramme(_RegistryCommand):
    """Name the programme that succeeds this one."""

    programme_id: Identifier = Field(description="The earlier programme.")
    successor_programme_id: Identifier = Field(description="The programme that succeeds it.")


class TenderCommand(_RegistryCommand):
    tender_id: Identifier = Field(description="The tender.")


class PlanTender(TenderCommand):
    """Plan a tender with its lots."""

    programme_id: Identifier | None = Field(default=None, description="Programme it belongs to.")
    title: Name = Field(description="Title of the tender.")
    contracting_authority: OrganisationRef = Field(description="Body that runs the tender.")
    procedure: Procedure = Field(description="Procurement procedure.")
    framework: bool = Field(description="True when it leads to a framework agreement.")
    lots: list[LotInput] = Field(
        min_length=1, max_length=MAX_LOTS, description="Lots; a tender without lots has one."
    )

    _values = accepts_values("lots")

    @field_validator("lots")
    @classmethod
    def _unique_lots(cls, lots: list[LotInput]) -> list[LotInput]:
        ids = [lot.lot_id for lot in lots]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"lot ids must be unique; repeated: {', '.join(duplicates)}")
        return lots


class PublishPriorInformationNotice(TenderCommand):
    """Record a prior information notice announcing the tender."""

    notice_reference: Name = Field(description="Reference of the notice.")


class HoldMarketConsultation(TenderCommand):
    """Record a market consultation held before publication."""

    started_on: Day = Field(description="First day of the consultation.")
    ended_on: Day = Field(description="Last day of the consultation.")
    summary: FreeText = Field(description="What was consulted and learned.")


class PublishTender(TenderCommand):
    """Record the publication; refused unless the participant list is frozen."""

    notice_reference: Name = Field(description="TenderNed / TED reference.")


class CorrectTender(TenderCommand):
    """Record a correction to the published tender."""

    summary: FreeText = Field(description="What was corrected.")
    notice_reference: Name | None = Field(default=None, description="Reference of the notice.")


class ClarifyTender(TenderCommand):
    """Record a clarification (nota van inlichtingen)."""

    summary: FreeText = Field(description="What was clarified.")


class PauseTender(TenderCommand):
    """Pause the tender."""

    reason: FreeText = Field(description="Why it is paused.")


class ResumeTender(TenderCommand):
    """Resume a paused tender."""

    reason: FreeText | None = Field(default=None, description="Why it resumes.")


class CancelLot(TenderCommand):
    """Cancel one lot."""

    lot_id: Identifier = Field(description="The lot to cancel.")
    reason: FreeText = Field(description="Why.")


class CancelTender(TenderCommand):
    """Stop the whole tender for good."""

    reason: FreeText = Field(description="Why.")


class LinkSuccessorTender(TenderCommand):
    """Name the tender that succeeds this one."""

    successor_tender_id: Identifier = Field(description="The tender that succeeds it.")


TENDER_COMMANDS: tuple[type[Command], ...] = (
    PlanProgramme,
    LinkSuccessorProgramme,
    PlanTender,
    PublishPriorInformationNotice,
    HoldMarketConsultation,
    PublishTender,
    CorrectTender,
    ClarifyTender,
    PauseTender,
    ResumeTender,
    CancelLot,
    CancelTender,
    LinkSuccessorTender,
)
