"""The registry's published vocabulary: schemas on disk and the cross-context field names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contracts_schema.base import DomainEvent
from contracts_schema.registry import COMMANDS, EVENTS

GENERATED = Path(__file__).resolve().parents[3] / "contracts-schema" / "generated"

# Names other contexts code against (TEAM.md): these fields must stay.
CROSS_CONTEXT_FIELDS = {
    "TenderPlanned": {
        "tender_id",
        "programme_id",
        "title",
        "contracting_authority",
        "procedure",
        "framework",
        "lots",
    },
    "TenderPublished": {"tender_id", "published_on", "notice_reference"},
    "ProvisionalAwardDecided": {
        "tender_id",
        "lot_id",
        "supplier_ids",
        "decision_sent_on",
        "standstill_ends_on",
    },
    "AwardMadeDefinitive": {"tender_id", "lot_id", "supplier_ids", "awarded_on"},
    "ContractSigned": {
        "contract_id",
        "kind",
        "tender_id",
        "lot_ids",
        "contracting_authority",
        "paying_agent",
        "suppliers",
        "signed_on",
        "start_date",
        "end_date",
        "max_extent_date",
        "value",  # v2; v1's value_eur is lifted by its upcaster
    },
    "ContractExtended": {"contract_id", "new_end_date"},
    "ContractAmended": {"contract_id", "summary"},
    "ContractTransferred": {
        "contract_id",
        "from_authority",
        "to_authority",
        "paying_agent",
        "transferred_on",
    },
    "ContractTerminated": {"contract_id", "terminated_on", "reason"},
    "ContractExpired": {"contract_id", "expired_on"},
}


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.event_type)
def test_every_registry_event_has_its_json_schema(event: type[DomainEvent]) -> None:
    path = GENERATED / "events" / f"{event.event_type}.v{event.schema_version}.json"
    schema = json.loads(path.read_text())
    assert set(schema["properties"]) == set(event.model_fields)
    assert event.context == "registry"
    assert event.aggregate_type in {"programme", "tender", "contract"}
    assert all(f.description for f in event.model_fields.values())


def test_every_registry_command_has_its_json_schema() -> None:
    for command in COMMANDS:
        assert (GENERATED / "commands" / f"{command.command_type}.json").is_file()


def test_cross_context_event_fields_are_kept() -> None:
    by_name = {e.event_type: e for e in EVENTS}
    for name, fields in CROSS_CONTEXT_FIELDS.items():
        assert fields <= set(by_name[name].model_fields), name
    supplier = by_name["ContractSigned"].model_fields["suppliers"].annotation
    assert supplier is not None
    assert {"supplier_id", "name", "lot_ids"} <= set(supplier.__args__[0].model_fields)  # type: ignore[union-attr]
