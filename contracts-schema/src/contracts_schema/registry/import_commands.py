"""Record facts imported from published OCDS data: recorded as they happened, not decided.

The importer (`audit ocds import`) maps a release to the registry's own event types; the
registry appends them unchanged (its fold must accept them), evaluates its rules on them for
findings instead of refusals, and records the provenance. The command id is derived from the
ocid and release id, so the same release imported twice is stored once.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from contracts_schema.base import AwareDatetime, Command, Value
from contracts_schema.registry.contract_commands import ContractCommand
from contracts_schema.registry.tender_commands import TenderCommand


class ImportedFact(Value):
    """One fact of the source release, as a registry event (type and payload)."""

    event_type: str = Field(min_length=1, max_length=80, description="Registry event type.")
    payload: dict[str, Any] = Field(description="The event body, per that type's JSON Schema.")


class _RecordImported(Value):
    # Published facts are dated by their release; an import is not a decision made now.
    future_valid_time_allowed: ClassVar[bool] = False

    ocid: str = Field(min_length=1, max_length=200, description="Source Open Contracting ID.")
    release_id: str = Field(min_length=1, max_length=200, description="Source release id.")
    release_date: AwareDatetime = Field(description="Source release date (the valid time).")
    publisher: str = Field(min_length=1, max_length=300, description="Source publisher's name.")
    package_uri: str | None = Field(default=None, max_length=2000, description="Package URI.")
    facts: list[ImportedFact] = Field(max_length=500, description="The mapped facts, in order.")


class RecordImportedTenderRelease(TenderCommand, _RecordImported):
    """Record a published release's facts about a tender and its lots."""


class RecordImportedContractRelease(ContractCommand, _RecordImported):
    """Record a published release's facts about one contract."""


IMPORT_COMMANDS: tuple[type[Command], ...] = (
    RecordImportedTenderRelease,
    RecordImportedContractRelease,
)
