"""import40: `decode` of a payload in its model's current version validates it as given,
without `upcast`'s copy (nothing to lift); the import's decisions read every fact that way.
The events are the ones the lift-then-validate reading gives (`upcast` then
`model_validate`), for every fact the importer sends for the bench's package and the shipped
OCDS fixtures; a fact its model refuses is refused as before (IMPORT_NOT_APPLICABLE with
pydantic's reason), its payload left as sent. The stored bytes of an import are pinned by
tests/integration/audit/test_import36_stored_bytes.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bench.import_map_ab import _fixtures, inputs
from contracts_schema.catalogue import EVENT_TYPES
from contracts_schema.errors import RuleViolation
from contracts_schema.registry.commands import ImportedFact, RecordImportedTenderRelease
from contracts_schema.registry.state import tender
from contracts_schema.upcasting import decode, upcast
from eventstore.commands import DecisionContext
from registry.domain.imported import record_imported_tender

AT = datetime(2020, 1, 6, 9, tzinfo=UTC)


def _commands() -> list[Any]:
    from audit.ocds.importer_map import map_release

    found = []
    for args in inputs(10) + inputs(0, _fixtures()):
        try:
            mapped = map_release(*args)
        except ValueError:
            continue
        found += [mapped.tender, *mapped.contracts]
    return found


def _lifted(event_type: str, payload: dict[str, Any]) -> Any:
    """The reading before import40: lifted to the current version (a copy), validated."""
    model = EVENT_TYPES[event_type]
    current = model.schema_version
    return model.model_validate(upcast(event_type, current, payload, current))


def test_decode_of_a_current_payload_is_the_lifted_reading() -> None:
    payload = _planned()
    assert decode("TenderPlanned", EVENT_TYPES["TenderPlanned"].schema_version, payload) == (
        _lifted("TenderPlanned", payload)
    )
    assert payload == _planned()  # not changed by the reading


def test_each_fact_is_read_as_decode_reads_it() -> None:
    from registry.domain.imported import _facts

    commands = _commands()
    kinds = set()
    for command in commands:
        key = "tender_id" if hasattr(command, "tender_id") else "contract_id"
        aggregate = "tender" if key == "tender_id" else "contract"
        read = _facts(command, aggregate, key, getattr(command, key))
        expected = [_lifted(f.event_type, f.payload) for f in command.facts]
        assert read == expected
        assert [e.model_dump(mode="json") for e in read] == [
            e.model_dump(mode="json") for e in expected
        ]
        kinds |= {f.event_type for f in command.facts}
    assert {"TenderPlanned", "ContractSigned", "AwardMadeDefinitive"} <= kinds


def _planned(**change: Any) -> dict[str, Any]:
    payload = {"tender_id": "t-1", "title": "Opdracht", "contracting_authority": "KVK-10000000",
               "procedure": "open", "framework": False,
               "lots": [{"lot_id": "lot-1", "title": "Opdracht"}],
               "planned_on": "2020-01-06"}  # fmt: skip
    return {**payload, **change}


@pytest.mark.parametrize(
    "payload", [_planned(planned_on="not a day"), _planned(extra="x"), _planned(lots="none")]
)
def test_a_fact_its_model_refuses_is_refused_as_before(payload: dict[str, Any]) -> None:
    command = RecordImportedTenderRelease(
        command_id="import-1", tender_id="t-1", ocid="ocds-x-1", release_id="1",
        release_date=AT, publisher="p", occurred_at=AT,
        facts=[ImportedFact(event_type="TenderPlanned", payload=payload)],
    )  # fmt: skip
    with pytest.raises(RuleViolation) as refused:
        record_imported_tender(tender.initial("t-1"), command, DecisionContext(AT, AT))
    assert refused.value.code == "IMPORT_NOT_APPLICABLE"
    assert refused.value.message.startswith("facts[0] (TenderPlanned): ")
    assert "validation error for TenderPlanned" in refused.value.message
    assert command.facts[0].payload == payload  # read without a copy, and left as sent
