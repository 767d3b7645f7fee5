"""Value types shared by the registry's events and commands."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from contracts_schema.base import Identifier, Value

# Municipalities by CBS code; other bodies and suppliers by KvK number or OIN.
ORGANISATION_CODE_PATTERN = r"^(GM\d{4}|KVK-\d{8}|OIN-\d{20})$"

OrganisationCode = Annotated[
    str,
    Field(
        pattern=ORGANISATION_CODE_PATTERN,
        description="Organisation code: GM#### (CBS), KVK-######## or OIN-#################### .",
    ),
]

Procedure = Literal[
    "open",
    "restricted",
    "competitive_procedure_with_negotiation",
    "competitive_dialogue",
    "negotiated_without_publication",
    "national",
]

ContractKind = Literal["framework", "call_off", "contract", "negotiated_terms"]

ReviewOutcome = Literal["award_upheld", "award_annulled", "settled", "withdrawn"]


class Lot(Value):
    lot_id: Identifier = Field(description="Lot (perceel / cluster) id, unique within the tender.")
    title: str = Field(min_length=1, description="Name of the lot, e.g. 'Vast'.")


class ContractSupplier(Value):
    supplier_id: OrganisationCode = Field(description="Supplier's organisation code (KvK).")
    name: str = Field(min_length=1, description="Supplier's name, e.g. 'KPN B.V.'.")
    lot_ids: list[Identifier] = Field(
        default_factory=list, description="Lots this supplier holds under the contract."
    )
