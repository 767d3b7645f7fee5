"""A supplier recorded by its published name (import35: no identifier the registry records,
an `XX-SUPPLIER-...` code derived from the name within its publisher's scope) is a supplier
like any to the notifier: the contract's expiry warnings are raised, and the integration
feed's `nl.gt.contract.signed.v1` names the supplier by that code, valid against the
feed's published schema. Real NATS, SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date

import jsonschema
from nats.aio.client import Client as NATS

from contracts_schema.registry.events import ContractSigned
from contracts_schema.registry.values import ContractSupplier, named_supplier_code
from eventstore.clock import FixedClock
from eventstore.store import EventStore
from tests.integration.notifier.facts import frozen_list, given, notifier
from tests.integration.notifier.test_integration_feed import GENERATED, feed, published

SIGNED = "nl.gt.contract.signed.v1"
END = date(2026, 6, 30)
FIRM = "Constructora del Valle S.A. de C.V."
CODE = named_supplier_code("ocds-mx0001", FIRM)


async def _contract(store: EventStore) -> None:
    await frozen_list(store, "T-35", "GM0363")
    contract = ContractSigned(
        contract_id="C-N", kind="contract", tender_id="T-35", lot_ids=["L1"],
        contracting_authority="OIN-00000001234567890000",
        suppliers=[ContractSupplier(supplier_id=CODE, name=FIRM, lot_ids=["L1"])],
        signed_on=date(2024, 6, 1), start_date=date(2024, 6, 1), end_date=END,
    )  # fmt: skip
    await given(store, "C-N", contract, "sign-C-N")


async def test_a_contract_with_a_supplier_known_by_name_is_warned_of(
    nats_client: NATS, fixed_clock: FixedClock, database_url: str
) -> None:
    store = EventStore(nats_client, fixed_clock)
    await _contract(store)
    service = notifier(nats_client, fixed_clock, database_url)
    await service.start(commands=False, webhooks=False)
    try:
        result = await service.tick(END)
        raised = sorted((w.contract_id, w.stage) for w in result.raised)
    finally:
        await service.stop()
    assert raised == [("C-N", "expiry")], raised


async def test_the_feed_names_the_supplier_by_its_code(
    nats_client: NATS, fixed_clock: FixedClock, database_url: str
) -> None:
    store = EventStore(nats_client, fixed_clock)
    await _contract(store)
    await published(nats_client, fixed_clock, database_url)
    events = await feed(nats_client)
    # (the stream is the module's: an earlier test's notifier may have published it too)
    signed = [e for _, e in events if e["type"] == SIGNED and e["subject"] == "contract/C-N"]
    assert signed, events
    assert {tuple(e["data"]["supplier_ids"]) for e in signed} == {(CODE,)}, signed
    schema = json.loads((GENERATED / f"{SIGNED}.json").read_text())
    for e in signed:
        jsonschema.validate(e["data"], schema)
