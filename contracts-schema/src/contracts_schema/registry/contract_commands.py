"""Commands on contracts: sign, amend, extend, transfer, terminate, expire."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from contracts_schema.base import Command, Identifier
from contracts_schema.bounds import AmountEur, Day, FreeText, Name
from contracts_schema.registry.values import (
    ContractKind,
    OrganisationRef,
    SupplierInput,
    accepts_values,
)


class ContractCommand(Command):
    context: ClassVar[str] = "registry"

    contract_id: Identifier = Field(description="The contract (client-chosen id).")


class SignContract(ContractCommand):
    """Record the signature of a framework, call-off, contract or negotiated terms."""

    kind: ContractKind = Field(description="framework | call_off | contract | negotiated_terms.")
    tender_id: Identifier | None = Field(default=None, description="Tender it results from.")
    lot_ids: list[Identifier] = Field(default_factory=list, description="Lots it covers.")
    contracting_authority: OrganisationRef = Field(description="Contracting authority.")
    paying_agent: OrganisationRef | None = Field(default=None, description="Paying agent.")
    suppliers: list[SupplierInput] = Field(
        min_length=1, max_length=1000, description="Suppliers and lots."
    )
    start_date: Day = Field(description="First day of the contract.")
    end_date: Day = Field(description="Last day of the initial term.")
    max_extent_date: Day | None = Field(default=None, description="Last day options can reach.")
    value_eur: AmountEur | None = Field(default=None, description="Estimated value in euro.")
    framework_contract_id: Identifier | None = Field(
        default=None, description="For a call-off: the framework it is concluded under."
    )
    duration_rationale: FreeText | None = Field(
        default=None, description="Required for a framework longer than 4 years."
    )
    title: Name | None = Field(default=None, description="Name of the contract.")

    _values = accepts_values("suppliers")


class AmendContract(ContractCommand):
    """Record an amendment, with changed dates or value if any."""

    summary: FreeText = Field(description="What changed.")
    new_end_date: Day | None = Field(default=None, description="New last day.")
    new_max_extent_date: Day | None = Field(default=None, description="New maximum extent.")
    new_value_eur: AmountEur | None = Field(default=None, description="New value.")


class ExtendContract(ContractCommand):
    """Exercise an option: the contract runs until a later day."""

    new_end_date: Day = Field(description="New last day; never past the maximum extent.")
    option_reference: Name | None = Field(default=None, description="Which option is used.")


class TransferContract(ContractCommand):
    """Pass the contract to another contracting authority."""

    to_authority: OrganisationRef = Field(description="The new contracting authority.")
    paying_agent: OrganisationRef | None = Field(default=None, description="New paying agent.")


class TerminateContract(ContractCommand):
    """End the contract early."""

    reason: FreeText = Field(description="Why.")


class ExpireContract(ContractCommand):
    """Record that the contract reached its end."""


CONTRACT_COMMANDS: tuple[type[Command], ...] = (
    SignContract,
    AmendContract,
    ExtendContract,
    TransferContract,
    TerminateContract,
    ExpireContract,
)
