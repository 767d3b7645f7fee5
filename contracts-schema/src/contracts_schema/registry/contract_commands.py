"""Commands on contracts: sign, amend, extend, transfer, terminate, expire."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import Field

from contracts_schema.base import Command, Identifier
from contracts_schema.registry.values import ContractKind, ContractSupplier, OrganisationCode


class ContractCommand(Command):
    context: ClassVar[str] = "registry"

    contract_id: Identifier = Field(description="The contract (client-chosen id).")


class SignContract(ContractCommand):
    """Record the signature of a framework, call-off, contract or negotiated terms."""

    kind: ContractKind = Field(description="framework | call_off | contract | negotiated_terms.")
    tender_id: Identifier | None = Field(default=None, description="Tender it results from.")
    lot_ids: list[Identifier] = Field(default_factory=list, description="Lots it covers.")
    contracting_authority: OrganisationCode = Field(description="Contracting authority.")
    paying_agent: OrganisationCode | None = Field(default=None, description="Paying agent.")
    suppliers: list[ContractSupplier] = Field(min_length=1, description="Suppliers and lots.")
    start_date: date = Field(description="First day of the contract.")
    end_date: date = Field(description="Last day of the initial term.")
    max_extent_date: date | None = Field(default=None, description="Last day options can reach.")
    value_eur: float | None = Field(default=None, ge=0, description="Estimated value in euro.")
    framework_contract_id: Identifier | None = Field(
        default=None, description="For a call-off: the framework it is concluded under."
    )
    duration_rationale: str | None = Field(
        default=None, description="Required for a framework longer than 4 years."
    )
    title: str | None = Field(default=None, description="Name of the contract.")


class AmendContract(ContractCommand):
    """Record an amendment, with changed dates or value if any."""

    summary: str = Field(min_length=1, description="What changed.")
    new_end_date: date | None = Field(default=None, description="New last day.")
    new_max_extent_date: date | None = Field(default=None, description="New maximum extent.")
    new_value_eur: float | None = Field(default=None, ge=0, description="New value.")


class ExtendContract(ContractCommand):
    """Exercise an option: the contract runs until a later day."""

    new_end_date: date = Field(description="New last day; never past the maximum extent.")
    option_reference: str | None = Field(default=None, description="Which option is used.")


class TransferContract(ContractCommand):
    """Pass the contract to another contracting authority."""

    to_authority: OrganisationCode = Field(description="The new contracting authority.")
    paying_agent: OrganisationCode | None = Field(default=None, description="New paying agent.")


class TerminateContract(ContractCommand):
    """End the contract early."""

    reason: str = Field(min_length=1, description="Why.")


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
