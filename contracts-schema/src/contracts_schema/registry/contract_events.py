"""Events of the contract aggregate: frameworks, call-offs, contracts, negotiated terms."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import Field

from contracts_schema.base import DomainEvent, Identifier
from contracts_schema.money import Money
from contracts_schema.registry.values import ContractKind, ContractSupplier, OrganisationCode


class _ContractEvent(DomainEvent):
    aggregate_type: ClassVar[str] = "contract"
    context: ClassVar[str] = "registry"

    contract_id: Identifier = Field(description="Contract id.")


class ContractSigned(_ContractEvent):
    """A framework agreement, call-off, contract or set of negotiated terms was signed."""

    schema_version: ClassVar[int] = 2  # v2: `value` (Money) for v1's `value_eur` float

    kind: ContractKind = Field(description="framework | call_off | contract | negotiated_terms.")
    tender_id: Identifier | None = Field(default=None, description="Tender it results from.")
    lot_ids: list[Identifier] = Field(default_factory=list, description="Lots it covers.")
    contracting_authority: OrganisationCode = Field(description="Contracting authority.")
    paying_agent: OrganisationCode | None = Field(
        default=None, description="Body that pays on behalf of the others (kassier)."
    )
    suppliers: list[ContractSupplier] = Field(min_length=1, description="Suppliers and lots.")
    signed_on: date = Field(description="Date of signature.")
    start_date: date = Field(description="First day of the contract.")
    end_date: date = Field(description="Last day of the current term.")
    max_extent_date: date | None = Field(
        default=None, description="Last day any option can reach (Period.maxExtentDate)."
    )
    value: Money | None = Field(default=None, description="Estimated value.")
    framework_contract_id: Identifier | None = Field(
        default=None, description="For a call-off: the framework it is concluded under."
    )
    duration_rationale: str | None = Field(
        default=None, description="Why a framework runs longer than 4 years (art. 33(1))."
    )
    title: str | None = Field(default=None, description="Name of the contract.")
    # Imported only (review18a): what the published source did not state. The day then is a
    # default the rules work with (the release's day; the start: the signing day). Optional,
    # default true: native signings and events stored before state both (no upcaster).
    signed_on_stated: bool = Field(
        default=True, description="False when the source states no signing day."
    )
    start_stated: bool = Field(default=True, description="False when the source states no start.")
    # Imported only (import33): an end the source does not state (none, or the 9999-12-31
    # "no end" some feeds publish). `end_date` is then the registry's last day (2100-12-31):
    # a contract running past any day asked about, never expiring. Default true (no upcaster).
    end_stated: bool = Field(
        default=True,
        description="False when the source states no end: end_date is then 2100-12-31, not"
        " a published fact (the contract never expires).",
    )


class ContractAmended(_ContractEvent):
    """The contract was amended; changed dates or value are given."""

    schema_version: ClassVar[int] = 2  # v2: `new_value` (Money) for v1's `new_value_eur`

    amended_on: date = Field(description="Date the amendment took effect.")
    summary: str = Field(min_length=1, description="What changed.")
    new_end_date: date | None = Field(default=None, description="New last day, if changed.")
    new_max_extent_date: date | None = Field(default=None, description="New maximum extent.")
    new_value: Money | None = Field(default=None, description="New value, if changed.")


class ContractRestated(_ContractEvent):
    """A later published release restated a signed contract (imported OCDS data only): its
    signing or start day corrected or no longer stated, its maximum extent or value no longer
    stated. The fields it gives replace the recorded ones, the others are unchanged. What a
    publisher said and when (the registry's own contracts change by amendment, extension or
    transfer; an amendment records a new end, extent or value, never none, and never another
    signing or start day). An end no longer stated (import33) leaves the contract running
    (its end the registry's last day, marked not stated); an end first stated is `end_date`."""

    restated_on: date = Field(description="Date of the restatement (its release's day).")
    signed_on: date | None = Field(default=None, description="The signing day now stated.")
    start_date: date | None = Field(default=None, description="The first day now stated.")
    max_extent_cleared: bool = Field(
        default=False, description="True when the source no longer states a maximum extent."
    )
    value_cleared: bool = Field(
        default=False, description="True when the source no longer states a value in EUR."
    )
    signed_on_cleared: bool = Field(
        default=False,
        description="True when the source no longer states a signing day: the recorded one"
        " stays (the rules and as-of views need one), not a published fact any more.",
    )
    start_cleared: bool = Field(
        default=False,
        description="True when the source no longer states a start: the recorded one stays,"
        " not a published fact any more.",
    )
    end_date: date | None = Field(
        default=None, description="The end now stated, where none was (import33)."
    )
    end_cleared: bool = Field(
        default=False,
        description="True when the source no longer states an end (or states 9999-12-31):"
        " the contract runs on, its end the registry's last day, 2100-12-31, not stated.",
    )


class ContractExtended(_ContractEvent):
    """An option was exercised: the contract runs longer."""

    new_end_date: date = Field(description="New last day of the contract.")
    previous_end_date: date = Field(description="Last day before the extension.")
    extended_on: date = Field(description="Date the option was exercised.")
    option_reference: str | None = Field(default=None, description="Which option was used.")


class ContractTransferred(_ContractEvent):
    """The contract passed to another contracting authority (e.g. VNG -> LNVT)."""

    from_authority: OrganisationCode = Field(description="Authority before the transfer.")
    to_authority: OrganisationCode = Field(description="Authority after the transfer.")
    paying_agent: OrganisationCode | None = Field(
        default=None, description="Paying agent after the transfer (e.g. The Hague, GM0518)."
    )
    transferred_on: date = Field(description="Date of the transfer.")


class ContractTerminated(_ContractEvent):
    """The contract was ended early."""

    terminated_on: date = Field(description="Date the termination took effect.")
    reason: str = Field(min_length=1, description="Why it was terminated.")


class ContractExpired(_ContractEvent):
    """The contract reached its end."""

    expired_on: date = Field(description="Date it expired.")


CONTRACT_EVENTS: tuple[type[DomainEvent], ...] = (
    ContractSigned,
    ContractAmended,
    ContractExtended,
    ContractTransferred,
    ContractTerminated,
    ContractExpired,
    ContractRestated,
)
