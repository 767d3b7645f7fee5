"""Domain events of the enrolment context.

Aggregates: `organisation` (id = the organisation code), `enrolment_window` (id = the
tender id) and `call_off` (id = the call-off id).
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from pydantic import Field

from contracts_schema.base import DomainEvent, Identifier, Value
from contracts_schema.money import Money

OrganisationKind = Literal[
    "municipality",
    "ministry",
    "province",
    "water_board",
    "zbo",
    "care_institution",
    "education_institution",
    "association",
    "supplier",
    "other",
]
CallOffProcedure = Literal["direct", "mini_competition"]

_CODE = "Organisation code: CBS code GM#### for municipalities, KVK-######## or OIN-<20 digits>."


class _OrganisationEvent(DomainEvent):
    aggregate_type: ClassVar[str] = "organisation"
    context: ClassVar[str] = "enrolment"


class OrganisationRegistered(_OrganisationEvent):
    """An organisation became known to the registry (reference data or by registration)."""

    code: Identifier = Field(description=_CODE)
    name: str = Field(min_length=1, description="Official name.")
    kind: OrganisationKind = Field(description="What kind of body it is.")
    province: str | None = Field(default=None, description="Province, for municipalities.")
    registered_on: date | None = Field(
        default=None,
        description="The day it is registered from (the fact's valid day): nothing about it"
        " is true earlier. A registration sent again with the same details and an earlier"
        " day dates it back. Absent in events recorded before the field existed.",
    )


class OrganisationRenamed(_OrganisationEvent):
    """An organisation took a new official name; its code stays."""

    code: Identifier = Field(description=_CODE)
    name: str = Field(min_length=1, description="The new official name.")
    previous_name: str = Field(description="The name before the rename.")
    renamed_on: date | None = Field(
        default=None,
        description="The day the new name took effect (the fact's valid day). Absent in"
        " events recorded before the field existed.",
    )


class MunicipalityMerged(_OrganisationEvent):
    """A municipality merged into another; its participations pass to the successor."""

    code: Identifier = Field(description="CBS code of the municipality that ceased to exist.")
    successor_code: Identifier = Field(description="CBS code of the continuing municipality.")
    effective_on: date = Field(description="The day the merger took effect.")


class _WindowEvent(DomainEvent):
    aggregate_type: ClassVar[str] = "enrolment_window"
    context: ClassVar[str] = "enrolment"


class EnrolmentWindowOpened(_WindowEvent):
    """The coordinator opened enrolment for a joint tender."""

    tender_id: Identifier = Field(description="The tender (and the window's aggregate id).")
    lot_ids: list[Identifier] = Field(min_length=1, description="Lots bodies may enrol for.")
    opens_on: date = Field(description="First day of enrolment.")
    closes_on: date = Field(description="Last day of enrolment (the deadline).")
    previous_round_tender_id: Identifier | None = Field(
        default=None, description="The earlier round's tender, for a second-round tender."
    )


class EnrolmentWindowExtended(_WindowEvent):
    """The enrolment deadline was moved later."""

    tender_id: Identifier = Field(description="The tender.")
    closes_on: date = Field(description="The new last day of enrolment.")
    previous_closes_on: date = Field(description="The deadline before the extension.")


class ParticipantEnrolled(_WindowEvent):
    """A body enrolled to use the tender's contracts for some lots (latest enrolment wins)."""

    tender_id: Identifier = Field(description="The tender.")
    organisation_code: Identifier = Field(description=_CODE)
    lot_ids: list[Identifier] = Field(min_length=1, description="Lots the body enrols for.")
    power_of_attorney_ref: str = Field(
        min_length=1, description="Reference of the power of attorney (volmacht) it signed."
    )
    enrolled_on: date = Field(description="Day of the enrolment.")


class ParticipantWithdrawn(_WindowEvent):
    """A body withdrew its enrolment while the window was open."""

    tender_id: Identifier = Field(description="The tender.")
    organisation_code: Identifier = Field(description=_CODE)
    withdrawn_on: date = Field(description="Day of the withdrawal.")


class Participant(Value):
    organisation_code: Identifier = Field(description=_CODE)
    lot_ids: list[Identifier] = Field(description="Lots it may call off from.")


class ParticipantListFrozen(_WindowEvent):
    """Enrolment closed: the participant list is final (Directive 2014/24/EU art. 33(2))."""

    tender_id: Identifier = Field(description="The tender.")
    frozen_on: date = Field(description="Day the list was frozen.")
    participants: list[Participant] = Field(description="Every participant with its lots.")


class _CallOffEvent(DomainEvent):
    aggregate_type: ClassVar[str] = "call_off"
    context: ClassVar[str] = "enrolment"


class MiniCompetitionStarted(_CallOffEvent):
    """A participant invited the lot's framework suppliers to a mini-competition."""

    call_off_id: Identifier = Field(description="The call-off this competition leads to.")
    framework_contract_id: Identifier = Field(description="The framework agreement.")
    tender_id: Identifier = Field(description="The tender that produced the framework.")
    lot_id: Identifier = Field(description="The framework lot.")
    participant_code: Identifier = Field(description="The calling-off participant.")
    invited_supplier_ids: list[Identifier] = Field(
        min_length=1, description="Framework suppliers of the lot invited to bid."
    )
    started_on: date = Field(description="Day the invitation was sent.")


class CallOffAwarded(_CallOffEvent):
    """A participant concluded a call-off (nadere overeenkomst) under a framework."""

    schema_version: ClassVar[int] = 2  # v2: `value` (Money) for v1's `value_eur` float

    call_off_id: Identifier = Field(description="The call-off.")
    framework_contract_id: Identifier = Field(description="The framework agreement.")
    tender_id: Identifier = Field(description="The tender that produced the framework.")
    lot_id: Identifier = Field(description="The framework lot.")
    participant_code: Identifier = Field(description="The calling-off participant.")
    supplier_id: Identifier = Field(description="The framework supplier chosen.")
    awarded_on: date = Field(description="Day the call-off was concluded.")
    procedure: CallOffProcedure = Field(description="Direct award or after a mini-competition.")
    start_date: date = Field(description="First day of the call-off.")
    end_date: date = Field(description="Last day of the call-off (may pass the framework's end).")
    value: Money | None = Field(default=None, description="Estimated value.")
    standstill_exempt: bool = Field(
        default=True,
        description="Call-offs under a framework need no standstill period (Remedies"
        " Directive 89/665/EEC art. 2b(c); Aanbestedingswet 2012 art. 2.127).",
    )


EVENTS: tuple[type[DomainEvent], ...] = (
    OrganisationRegistered,
    OrganisationRenamed,
    MunicipalityMerged,
    EnrolmentWindowOpened,
    EnrolmentWindowExtended,
    ParticipantEnrolled,
    ParticipantWithdrawn,
    ParticipantListFrozen,
    MiniCompetitionStarted,
    CallOffAwarded,
)
