"""Provenance of facts imported from published OCDS data (recorded, not decided).

An imported release becomes the registry's own events (TenderPlanned, ContractSigned, ...),
appended with the actor `import:<publisher>`, followed by one of these: where the facts came
from, and what the rules of procurement law found on them (the refusals the registry would
have given had it decided them).
"""

from __future__ import annotations

from pydantic import Field

from contracts_schema.base import AwareDatetime, DomainEvent, Value
from contracts_schema.registry.contract_events import _ContractEvent
from contracts_schema.registry.tender_events import TenderEvent


class LawFinding(Value):
    """A rule of procurement law the imported facts do not satisfy."""

    code: str = Field(min_length=1, description="The refusal code the rule gives (RefusalCode).")
    message: str = Field(min_length=1, description="The rule, named, with the facts that broke it.")
    subject: str | None = Field(
        default=None, description="What it is about, e.g. the lot or the contract id."
    )


class _ImportedRelease(Value):
    ocid: str = Field(min_length=1, description="Open Contracting ID of the source process.")
    release_id: str = Field(min_length=1, description="The source release's id.")
    release_date: AwareDatetime = Field(description="The source release's date (valid time).")
    publisher: str = Field(min_length=1, description="Publisher of the source package.")
    package_uri: str | None = Field(default=None, description="URI of the source package.")
    findings: list[LawFinding] = Field(
        default_factory=list, description="What the rules found, after this release's facts."
    )


class TenderReleaseImported(TenderEvent, _ImportedRelease):
    """An OCDS release about this tender was imported; its facts precede this event."""


class ContractReleaseImported(_ContractEvent, _ImportedRelease):
    """An OCDS release about this contract was imported; its facts precede this event."""


IMPORT_EVENTS: tuple[type[DomainEvent], ...] = (TenderReleaseImported, ContractReleaseImported)
