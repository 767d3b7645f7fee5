"""Integration event payloads, versioned independently of the domain events.

A breaking change gets a new class with a new `.vN` type; old versions keep being published
until their consumers moved on.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from pydantic import Field

from contracts_schema.integration.cloudevent import IntegrationEvent
from contracts_schema.money import Money


class ContractExpiringV1(IntegrationEvent):
    """A contract you take part in reaches a warning threshold before it ends."""

    cloud_event_type: ClassVar[str] = "nl.gt.contract.expiring.v1"

    contract_id: str = Field(description="The contract.")
    contract_kind: str = Field(description="framework, call_off, contract or negotiated_terms.")
    date_kind: Literal["end", "max_extent"] = Field(
        description="end: the current end (an option may still extend it); max_extent: final."
    )
    target_date: date = Field(description="The date the contract ends (or can at most end).")
    stage: str = Field(description="'24m', '18m', '12m', '6m', '3m' or 'expiry'.")
    months_before: int = Field(description="Months before target_date; 0 at expiry.")
    due_on: date = Field(description="The day the threshold was reached.")
    late: bool = Field(description="True when this warning comes later than its due day.")


class ContractSignedV1(IntegrationEvent):
    """A contract or framework agreement you take part in was signed."""

    cloud_event_type: ClassVar[str] = "nl.gt.contract.signed.v1"

    contract_id: str = Field(description="The contract.")
    contract_kind: str = Field(description="framework, call_off, contract or negotiated_terms.")
    tender_id: str | None = Field(description="The tender it results from, if any.")
    contracting_authority: str = Field(description="Organisation code of the authority.")
    supplier_ids: list[str] = Field(description="The suppliers.")
    signed_on: date = Field(description="Day of signature.")
    start_date: date = Field(description="First day.")
    end_date: date = Field(description="Current end date.")
    max_extent_date: date | None = Field(description="End that options can never pass.")
    # Added later, optional (import32): a consumer reading v1 without them is unaffected.
    signed_on_stated: bool = Field(
        default=True,
        description="False only for an imported contract whose publisher stated no signing"
        " day: signed_on is then the day the registry recorded it, not a published fact.",
    )
    start_stated: bool = Field(
        default=True,
        description="False only for an imported contract whose publisher stated no start:"
        " start_date is then the signing day, not a published fact.",
    )
    # Added later, optional (import33).
    end_stated: bool = Field(
        default=True,
        description="False only for an imported contract whose publisher stated no end (or"
        ' 9999-12-31, "no end"): end_date is then 2100-12-31, the registry\'s last day, not a'
        " published fact; the contract runs on and raises no expiry warning.",
    )


class ContractExtendedV1(IntegrationEvent):
    """An option was exercised: the contract runs longer."""

    cloud_event_type: ClassVar[str] = "nl.gt.contract.extended.v1"

    contract_id: str = Field(description="The contract.")
    new_end_date: date = Field(description="The new end date.")


class ContractAmendedV1(IntegrationEvent):
    """The contract was amended; dates and value are given when the amendment changed them."""

    cloud_event_type: ClassVar[str] = "nl.gt.contract.amended.v1"

    contract_id: str = Field(description="The contract.")
    summary: str = Field(description="What changed, in words.")
    end_date: date | None = Field(description="New end date, when changed.")
    max_extent_date: date | None = Field(description="New maximum extent date, when changed.")
    # Added later, optional: a consumer reading v1 without it is unaffected.
    value: Money | None = Field(default=None, description="New value, when changed.")


class ContractRestatedV1(IntegrationEvent):
    """A published (imported) contract was restated by its publisher: its signing or start day
    corrected or no longer stated, its end first stated or no longer stated, its maximum
    extent or value no longer stated. Only what
    changed is given; the rest stays as signed (review18a: subscribers heard of amendments
    only)."""

    cloud_event_type: ClassVar[str] = "nl.gt.contract.restated.v1"

    contract_id: str = Field(description="The contract.")
    restated_on: date = Field(description="Day of the restating publication.")
    signed_on: date | None = Field(default=None, description="The signing day now stated.")
    start_date: date | None = Field(default=None, description="The first day now stated.")
    max_extent_cleared: bool = Field(
        default=False, description="True when a maximum extent date is no longer stated."
    )
    value_cleared: bool = Field(
        default=False, description="True when a value in EUR is no longer stated."
    )
    # Added later, optional (import32): a consumer reading v1 without them is unaffected.
    signed_on_cleared: bool = Field(
        default=False,
        description="True when the signing day is no longer stated: the registry keeps the"
        " day it had (its rules and dates need one), no longer a published fact.",
    )
    start_cleared: bool = Field(
        default=False,
        description="True when the start is no longer stated: the registry keeps the day it"
        " had, no longer a published fact.",
    )
    # Added later, optional (import33).
    end_date: date | None = Field(
        default=None, description="The end now stated, where none was stated before."
    )
    end_cleared: bool = Field(
        default=False,
        description='True when the end is no longer stated (or stated as 9999-12-31, "no'
        ' end"): the contract runs on, no expiry warning; the registry records its end as'
        " 2100-12-31, not a published fact.",
    )


class ContractTransferredV1(IntegrationEvent):
    """Another contracting authority took the contract over."""

    cloud_event_type: ClassVar[str] = "nl.gt.contract.transferred.v1"

    contract_id: str = Field(description="The contract.")
    from_authority: str = Field(description="Organisation code of the previous authority.")
    to_authority: str = Field(description="Organisation code of the new authority.")
    paying_agent: str | None = Field(description="Organisation paying on behalf of others.")
    transferred_on: date = Field(description="Day of the transfer.")


class ContractTerminatedV1(IntegrationEvent):
    """The contract was ended early."""

    cloud_event_type: ClassVar[str] = "nl.gt.contract.terminated.v1"

    contract_id: str = Field(description="The contract.")
    terminated_on: date = Field(description="Last day.")
    reason: str = Field(description="Why.")


class ContractExpiredV1(IntegrationEvent):
    """A contract you take part in reached its end: no more call-offs under it."""

    cloud_event_type: ClassVar[str] = "nl.gt.contract.expired.v1"

    contract_id: str = Field(description="The contract.")
    expired_on: date = Field(description="The day it expired (its last end date).")


class CallOffAwardedV1(IntegrationEvent):
    """A call-off under a framework was awarded to your organisation's supplier."""

    cloud_event_type: ClassVar[str] = "nl.gt.calloff.awarded.v1"

    call_off_id: str = Field(description="The call-off (a contract of its own).")
    framework_contract_id: str = Field(description="The framework it is concluded under.")
    supplier_id: str = Field(description="The supplier.")
    awarded_on: date = Field(description="Day of award.")
    start_date: date = Field(description="First day.")
    end_date: date = Field(description="Last day.")


class EnrolmentOpenedV1(IntegrationEvent):
    """A joint tender opens enrolment: any body may enrol before it closes."""

    cloud_event_type: ClassVar[str] = "nl.gt.enrolment.opened.v1"
    audience: ClassVar[Literal["participants", "public"]] = "public"

    tender_id: str = Field(description="The tender (and enrolment window) id.")
    title: str | None = Field(
        description="Title of the tender, when known: null when its publisher stated none"
        " (title_stated false) or the tender is not known."
    )
    lot_ids: list[str] = Field(description="Lots one may enrol for.")
    opens_on: date = Field(description="First day of enrolment.")
    closes_on: date = Field(description="Last day of enrolment.")
    # Added later, optional (import32): a consumer reading v1 without it is unaffected.
    title_stated: bool = Field(
        default=True,
        description="False when the tender is imported and its publisher states no title (or"
        " no longer does): the registry's own default (the ocid) is not sent as one, title is"
        " null.",
    )


class EnrolmentExtendedV1(IntegrationEvent):
    """The enrolment deadline of a joint tender moved."""

    cloud_event_type: ClassVar[str] = "nl.gt.enrolment.extended.v1"
    audience: ClassVar[Literal["participants", "public"]] = "public"

    tender_id: str = Field(description="The tender (and enrolment window) id.")
    closes_on: date = Field(description="The new last day of enrolment.")


INTEGRATION_EVENTS: tuple[type[IntegrationEvent], ...] = (
    ContractExpiringV1,
    ContractSignedV1,
    ContractExtendedV1,
    ContractAmendedV1,
    ContractRestatedV1,
    ContractTransferredV1,
    ContractTerminatedV1,
    ContractExpiredV1,
    CallOffAwardedV1,
    EnrolmentOpenedV1,
    EnrolmentExtendedV1,
)
INTEGRATION_TYPES: dict[str, type[IntegrationEvent]] = {
    m.cloud_event_type: m for m in INTEGRATION_EVENTS
}
