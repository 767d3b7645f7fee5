"""review13: a genuine retry of an imported contract release, answered by its events (no
processed-command record: lost, unreadable in an election, or pre-upgrade), is its command
retried, though the law findings its event carries were computed on the tender as it stood
then (not imported yet) and the tender has been imported since. Refused COMMAND_ID_REUSED
before; a different release under the same id still is (`test_correct10_retry_body`)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from contracts_schema.money import Money
from contracts_schema.registry import events as ev
from contracts_schema.registry.import_commands import (
    ImportedFact,
    RecordImportedContractRelease,
    RecordImportedTenderRelease,
)
from contracts_schema.registry.values import ContractSupplier
from contracts_schema.replies import CommandAccepted
from eventstore.clock import FixedClock
from eventstore.memory import InMemoryEventStore
from tests.service.bus import InProcessBus
from tests.service.test_backdated_retry_idempotent import send
from tests.service.test_correct10_retry_body import without_its_record

OCID = "ocds-gtnl99-r13"
AT = datetime(2020, 1, 6, 9, tzinfo=UTC)


def tender_release() -> RecordImportedTenderRelease:
    fact = ImportedFact(event_type="TenderPlanned", payload={
        "tender_id": OCID, "title": "Telefonie", "contracting_authority": "KVK-71830960",
        "procedure": "open", "framework": False, "lots": [{"lot_id": "lot-1", "title": "t"}],
        "planned_on": "2020-01-05"})  # fmt: skip
    return RecordImportedTenderRelease(
        command_id="imp-t-r1", tender_id=OCID, ocid=OCID, release_id="t-r1",
        release_date=AT, publisher="TenderNed", facts=[fact], occurred_at=AT,
    )  # fmt: skip


def contract_release() -> RecordImportedContractRelease:
    signed = ev.ContractSigned(
        contract_id=f"{OCID}-c1", kind="contract", tender_id=OCID, lot_ids=["lot-1"],
        contracting_authority="KVK-71830960", paying_agent=None, suppliers=[ContractSupplier(supplier_id="KVK-14052264", name="KPN", lot_ids=["lot-1"])],
        signed_on=date(2020, 1, 6), start_date=date(2020, 2, 1), end_date=date(2021, 1, 31),
        max_extent_date=None, value=Money.euro(1000.0),
    )  # fmt: skip
    fact = ImportedFact(event_type="ContractSigned", payload=signed.model_dump(mode="json"))
    return RecordImportedContractRelease(
        command_id="imp-c-r1", contract_id=f"{OCID}-c1", ocid=OCID, release_id="c-r1",
        release_date=AT, publisher="TenderNed", facts=[fact], occurred_at=AT,
    )  # fmt: skip


async def test_a_genuine_retry_of_an_imported_contract_release(
    bus: InProcessBus, store: InMemoryEventStore, clock: FixedClock
) -> None:
    first = await bus.accept(contract_release())  # tender not imported yet: a finding
    await bus.accept(tender_release())  # the tender arrives (its own later release)
    other = await without_its_record(store, clock)  # the record lost / unreadable
    again = await send(other, contract_release())  # the very same command, retried
    assert isinstance(again, CommandAccepted), again
    assert again.duplicate
    assert again.events == first.events
