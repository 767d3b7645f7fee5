"""Commands of the enrolment context."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, ClassVar

from pydantic import Field

from contracts_schema.base import ID_PATTERN, Command, Identifier
from contracts_schema.bounds import AmountEur, Day, Name
from contracts_schema.enrolment.events import CallOffProcedure, OrganisationKind
from contracts_schema.references import NAMES_ORGANISATION

_CODE = "Organisation code: CBS code GM#### for municipalities, KVK-######## or OIN-<20 digits>."


# A code naming an organisation that must be registered; its format is a rule of the
# enrolment domain (INVALID_ORGANISATION_CODE), so the contract only bounds it as an id.
OrganisationId = Annotated[str, Field(pattern=ID_PATTERN), NAMES_ORGANISATION]

_DEPRECATED_DAY = (
    "Deprecated: the valid time is occurredAt; this day, when sent, must be occurredAt's Dutch"
    " calendar day (sent alone it sets occurredAt to the start of that day)."
)


def _valid_day(what: str) -> Any:
    return Field(
        default=None,
        description=f"{what}. {_DEPRECATED_DAY}",
        json_schema_extra={"deprecated": True},
    )


class _EnrolmentCommand(Command):
    context: ClassVar[str] = "enrolment"


class LoadMunicipalities(_EnrolmentCommand):
    """Load the CBS municipality list (reference data); already known codes are skipped."""

    source: Name = Field(default="municipalities.csv", description="File name, for messages.")
    csv_text: str | None = Field(
        default=None,
        description="CSV with header cbs_code,name,province; omitted: the list shipped"
        " with the enrolment service.",
    )


class RegisterOrganisation(_EnrolmentCommand):
    """Register a body (ministry, province, water board, ZBO, supplier...) by KvK or OIN."""

    code: Identifier = Field(description=_CODE)
    name: Name = Field(description="Official name.")
    kind: OrganisationKind = Field(description="What kind of body it is.")
    province: Name | None = Field(default=None, description="Province, for municipalities.")


class RenameOrganisation(_EnrolmentCommand):
    """Record an organisation's new official name; its code stays."""

    code: Identifier = Field(description=_CODE)
    name: Name = Field(description="The new official name.")


class MergeMunicipality(_EnrolmentCommand):
    """Record that a municipality merged into a successor, which takes over its participations."""

    code: Identifier = Field(description="CBS code of the municipality that ceases to exist.")
    successor_code: Identifier = Field(description="CBS code of the continuing municipality.")
    effective_on: Day = Field(description="The day the merger takes effect.")


class OpenEnrolmentWindow(_EnrolmentCommand):
    """Open enrolment for a tender's lots: bodies may enrol from opens_on to closes_on."""

    tender_id: Identifier = Field(description="A tender planned in the registry.")
    lot_ids: list[Identifier] = Field(min_length=1, description="Lots bodies may enrol for.")
    opens_on: Day = Field(description="First day of enrolment.")
    closes_on: Day = Field(description="Last day of enrolment.")
    previous_round_tender_id: Identifier | None = Field(
        default=None, description="For a second-round tender: the first round's tender."
    )


class ExtendEnrolmentWindow(_EnrolmentCommand):
    """Move an open enrolment window's last day to a later day."""

    tender_id: Identifier = Field(description="The tender.")
    closes_on: Day = Field(description="The new, later last day of enrolment.")


class EnrolParticipant(_EnrolmentCommand):
    """Enrol a body in a tender's lots, under its signed power of attorney (volmacht)."""

    tender_id: Identifier = Field(description="The tender.")
    valid_day_field: ClassVar[str | None] = "enrolled_on"

    organisation_code: OrganisationId = Field(description=_CODE)
    lot_ids: list[Identifier] = Field(min_length=1, description="Lots the body enrols for.")
    power_of_attorney_ref: Name = Field(
        description="Reference of the signed power of attorney (volmacht)."
    )
    enrolled_on: date | None = _valid_day("Day of the enrolment")


class WithdrawParticipant(_EnrolmentCommand):
    """Withdraw a body's enrolment while the window is open (before the freeze)."""

    tender_id: Identifier = Field(description="The tender.")
    valid_day_field: ClassVar[str | None] = "withdrawn_on"

    organisation_code: OrganisationId = Field(description=_CODE)
    withdrawn_on: date | None = _valid_day("Day of the withdrawal")


class CloseEnrolmentWindow(_EnrolmentCommand):
    """Close enrolment and freeze the participant list (required before publication)."""

    tender_id: Identifier = Field(description="The tender.")
    valid_day_field: ClassVar[str | None] = "frozen_on"

    frozen_on: date | None = _valid_day("Day of the freeze")


class StartMiniCompetition(_EnrolmentCommand):
    """Invite a framework lot's suppliers to a mini-competition for a call-off."""

    call_off_id: Identifier = Field(description="Client-chosen id of the call-off to come.")
    framework_contract_id: Identifier = Field(description="The framework agreement.")
    lot_id: Identifier = Field(description="The framework lot.")
    valid_day_field: ClassVar[str | None] = "started_on"

    participant_code: OrganisationId = Field(description="The calling-off participant.")
    invited_supplier_ids: list[OrganisationId] = Field(
        min_length=1, max_length=1000, description="Framework suppliers of the lot invited to bid."
    )
    started_on: date | None = _valid_day("Day the invitation is sent")


class AwardCallOff(_EnrolmentCommand):
    """Conclude a call-off: directly, or after this call-off's mini-competition."""

    call_off_id: Identifier = Field(description="Client-chosen id of the call-off.")
    framework_contract_id: Identifier = Field(description="The framework agreement.")
    lot_id: Identifier = Field(description="The framework lot.")
    valid_day_field: ClassVar[str | None] = "awarded_on"

    participant_code: OrganisationId = Field(description="The calling-off participant.")
    supplier_id: OrganisationId = Field(description="The framework supplier chosen.")
    procedure: CallOffProcedure = Field(description="direct or mini_competition.")
    awarded_on: date | None = _valid_day("Day the call-off is concluded")
    start_date: Day = Field(description="First day of the call-off.")
    end_date: Day = Field(description="Last day of the call-off.")
    value_eur: AmountEur | None = Field(default=None, description="Estimated value in euro.")


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
