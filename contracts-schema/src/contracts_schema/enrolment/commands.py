"""Commands of the enrolment context."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import Field

from contracts_schema.base import Command, Identifier
from contracts_schema.enrolment.events import CallOffProcedure, OrganisationKind

_CODE = "Organisation code: CBS code GM#### for municipalities, KVK-######## or OIN-<20 digits>."


class _EnrolmentCommand(Command):
    context: ClassVar[str] = "enrolment"


class LoadMunicipalities(_EnrolmentCommand):
    """Load the CBS municipality list (reference data); already known codes are skipped."""

    source: str = Field(
        default="municipalities.csv", min_length=1, description="File name, for messages."
    )
    csv_text: str | None = Field(
        default=None,
        description="CSV with header cbs_code,name,province; omitted: the list shipped"
        " with the enrolment service.",
    )


class RegisterOrganisation(_EnrolmentCommand):
    """Register a body (ministry, province, water board, ZBO, supplier...) by KvK or OIN."""

    code: Identifier = Field(description=_CODE)
    name: str = Field(min_length=1, description="Official name.")
    kind: OrganisationKind = Field(description="What kind of body it is.")
    province: str | None = Field(default=None, description="Province, for municipalities.")


class RenameOrganisation(_EnrolmentCommand):
    """Record an organisation's new official name; its code stays."""

    code: Identifier = Field(description=_CODE)
    name: str = Field(min_length=1, description="The new official name.")


class MergeMunicipality(_EnrolmentCommand):
    """Record that a municipality merged into a successor, which takes over its participations."""

    code: Identifier = Field(description="CBS code of the municipality that ceases to exist.")
    successor_code: Identifier = Field(description="CBS code of the continuing municipality.")
    effective_on: date = Field(description="The day the merger takes effect.")


class OpenEnrolmentWindow(_EnrolmentCommand):
    """Open enrolment for a tender's lots: bodies may enrol from opens_on to closes_on."""

    tender_id: Identifier = Field(description="A tender planned in the registry.")
    lot_ids: list[Identifier] = Field(min_length=1, description="Lots bodies may enrol for.")
    opens_on: date = Field(description="First day of enrolment.")
    closes_on: date = Field(description="Last day of enrolment.")
    previous_round_tender_id: Identifier | None = Field(
        default=None, description="For a second-round tender: the first round's tender."
    )


class ExtendEnrolmentWindow(_EnrolmentCommand):
    """Move an open enrolment window's last day to a later day."""

    tender_id: Identifier = Field(description="The tender.")
    closes_on: date = Field(description="The new, later last day of enrolment.")


class EnrolParticipant(_EnrolmentCommand):
    """Enrol a body in a tender's lots, under its signed power of attorney (volmacht)."""

    tender_id: Identifier = Field(description="The tender.")
    organisation_code: Identifier = Field(description=_CODE)
    lot_ids: list[Identifier] = Field(min_length=1, description="Lots the body enrols for.")
    power_of_attorney_ref: str = Field(
        min_length=1, description="Reference of the signed power of attorney (volmacht)."
    )
    enrolled_on: date | None = Field(
        default=None, description="Day of the enrolment; defaults to the valid-time date."
    )


class WithdrawParticipant(_EnrolmentCommand):
    """Withdraw a body's enrolment while the window is open (before the freeze)."""

    tender_id: Identifier = Field(description="The tender.")
    organisation_code: Identifier = Field(description=_CODE)
    withdrawn_on: date | None = Field(
        default=None, description="Day of the withdrawal; defaults to the valid-time date."
    )


class CloseEnrolmentWindow(_EnrolmentCommand):
    """Close enrolment and freeze the participant list (required before publication)."""

    tender_id: Identifier = Field(description="The tender.")
    frozen_on: date | None = Field(
        default=None, description="Day of the freeze; defaults to the valid-time date."
    )


class StartMiniCompetition(_EnrolmentCommand):
    """Invite a framework lot's suppliers to a mini-competition for a call-off."""

    call_off_id: Identifier = Field(description="Client-chosen id of the call-off to come.")
    framework_contract_id: Identifier = Field(description="The framework agreement.")
    lot_id: Identifier = Field(description="The framework lot.")
    participant_code: Identifier = Field(description="The calling-off participant.")
    invited_supplier_ids: list[Identifier] = Field(
        min_length=1, description="Framework suppliers of the lot invited to bid."
    )
    started_on: date = Field(description="Day the invitation is sent.")


class AwardCallOff(_EnrolmentCommand):
    """Conclude a call-off: directly, or after this call-off's mini-competition."""

    call_off_id: Identifier = Field(description="Client-chosen id of the call-off.")
    framework_contract_id: Identifier = Field(description="The framework agreement.")
    lot_id: Identifier = Field(description="The framework lot.")
    participant_code: Identifier = Field(description="The calling-off participant.")
    supplier_id: Identifier = Field(description="The framework supplier chosen.")
    procedure: CallOffProcedure = Field(description="direct or mini_competition.")
    awarded_on: date = Field(description="Day the call-off is concluded.")
    start_date: date = Field(description="First day of the call-off.")
    end_date: date = Field(description="Last day of the call-off.")
    value_eur: float | None = Field(default=None, ge=0, description="Estimated value in euro.")


COMMANDS: tuple[type[Command], ...] = (
    LoadMunicipalities,
    RegisterOrganisation,
    RenameOrganisation,
    MergeMunicipality,
    OpenEnrolmentWindow,
    ExtendEnrolmentWindow,
    EnrolParticipant,
    WithdrawParticipant,
    CloseEnrolmentWindow,
    StartMiniCompetition,
    AwardCallOff,
)
