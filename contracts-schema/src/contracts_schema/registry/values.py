"""Value types shared by the registry's events and commands."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from contracts_schema.base import Identifier, Value
from contracts_schema.bounds import Name
from contracts_schema.references import NAMES_ORGANISATION

# Municipalities by CBS code; other bodies and suppliers by KvK number or OIN; a body outside
# the Netherlands (a supplier in imported OCDS data) by its org-id.guide identifier, e.g.
# GB-COH-11111111 (country, register, id; Dutch bodies always by their Dutch code).
ORGANISATION_CODE_PATTERN = (
    r"^(GM\d{4}|KVK-\d{8}|OIN-\d{20}|([A-MO-Z][A-Z]|N[A-KM-Z])-[A-Z0-9]{2,10}-[A-Za-z0-9]{1,24})$"
)

# A contracting authority published (in imported OCDS data) by its name alone: recorded under
# a code derived from the name ("XX" is no country: org-id.guide assigns it to nobody), with
# a finding (CONTRACTING_AUTHORITY_UNIDENTIFIED) instead of refusing the whole release.
NAMED_ONLY_PREFIX = "XX-NAMED-"


def named_only_code(name: str) -> str:
    """The same code for the same name, spaces and case aside."""
    normal = " ".join(name.split()).casefold()
    return NAMED_ONLY_PREFIX + hashlib.sha256(normal.encode()).hexdigest()[:24]


# A supplier published (in imported OCDS data) without an identifier the registry records (a
# name only, or a local scheme such as Mexico's RFC that is no org-id.guide register):
# recorded under a code derived from its name within its publisher's scope (import35), with
# a finding (SUPPLIER_UNIDENTIFIED). Two publishers' firms of one name stay two; within one
# publisher one name is taken as one firm.
NAMED_SUPPLIER_PREFIX = "XX-SUPPLIER-"


def named_supplier_code(scope: str, name: str) -> str:
    """The same code for the same name (spaces and case aside) in the same scope."""
    normal = " ".join(name.split()).casefold()
    return NAMED_SUPPLIER_PREFIX + hashlib.sha256(f"{scope}\n{normal}".encode()).hexdigest()[:24]


OrganisationCode = Annotated[
    str,
    Field(
        pattern=ORGANISATION_CODE_PATTERN,
        description="Organisation code: GM#### (CBS), KVK-######## or OIN-####################;"
        " abroad XX-REGISTER-id (org-id.guide).",
    ),
]

OrganisationRef = Annotated[OrganisationCode, NAMES_ORGANISATION]
"""In a command: an organisation that must be registered (`ORGANISATION_UNKNOWN` if not)."""

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
    # A command's bounded `LotInput` becomes a plain `Lot` in an event.
    model_config = ConfigDict(
        frozen=True, extra="forbid", revalidate_instances="subclass-instances"
    )

    lot_id: Identifier = Field(description="Lot (perceel / cluster) id, unique within the tender.")
    title: str = Field(min_length=1, description="Name of the lot, e.g. 'Vast'.")


class ContractSupplier(Value):
    model_config = ConfigDict(
        frozen=True, extra="forbid", revalidate_instances="subclass-instances"
    )

    supplier_id: OrganisationCode = Field(description="Supplier's organisation code (KvK).")
    name: str = Field(min_length=1, description="Supplier's name, e.g. 'KPN B.V.'.")
    lot_ids: list[Identifier] = Field(
        default_factory=list, description="Lots this supplier holds under the contract."
    )


# Commands take bounded values (contracts_schema.bounds); events keep the types above, so
# every event recorded before the bounds still validates.


def _as_data(values: Any) -> Any:
    """Lets a caller pass the event-side value objects (e.g. `Lot`) to a command."""
    if isinstance(values, list):
        return [v.model_dump() if isinstance(v, BaseModel) else v for v in values]
    return values


class LotInput(Lot):
    title: Name = Field(description="Name of the lot, e.g. 'Vast'.")


class SupplierInput(ContractSupplier):
    supplier_id: OrganisationRef = Field(description="Supplier's organisation code (KvK).")
    name: Name = Field(description="Supplier's name, e.g. 'KPN B.V.'.")
    lot_ids: list[Identifier] = Field(
        default_factory=list, max_length=200, description="Lots this supplier holds."
    )


def accepts_values(field: str) -> Any:
    """A before-validator for a command's list of values: value objects become plain data."""
    return field_validator(field, mode="before")(lambda cls, v: _as_data(v))
