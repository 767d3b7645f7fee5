"""A contract restated by its publisher (imported `ContractRestated`, import25) reaches the
contract's organisations as `nl.gt.contract.restated.v1` (review18a finding 5: the feed
published amendments only, so a subscriber never heard a corrected signing day or a maximum
extent no longer stated), valid against its generated JSON Schema."""

from __future__ import annotations

import json
from datetime import date

import jsonschema
from nats.aio.client import Client as NATS

from contracts_schema.registry.events import ContractRestated
from eventstore.clock import FixedClock
from eventstore.store import EventStore
from tests.integration.notifier.facts import frozen_list, given, signed
from tests.integration.notifier.test_integration_feed import GENERATED, feed, published

RESTATED = "nl.gt.contract.restated.v1"


async def test_a_restated_contract_reaches_its_organisations(
    nats_client: NATS, fixed_clock: FixedClock, database_url: str
) -> None:
    store = EventStore(nats_client, fixed_clock)
    await frozen_list(store, "T-7", "GM0363")
    await signed(store, "C-7", "T-7", signed_on=date(2024, 6, 1), end=date(2026, 6, 30),
                 max_extent=date(2028, 6, 30))  # fmt: skip
    restated = ContractRestated(contract_id="C-7", restated_on=date(2024, 8, 15),
                                signed_on=date(2024, 5, 5), max_extent_cleared=True)  # fmt: skip
    await given(store, "C-7", restated, "restate-C-7")
    await published(nats_client, fixed_clock, database_url)

    events = [(s, e) for s, e in await feed(nats_client) if e["type"] == RESTATED]
    assert sorted(s for s, _ in events) == [
        f"gt.org.GM0363.{RESTATED}",
        f"gt.org.OIN-00000001234567890000.{RESTATED}",
    ]
    schema = json.loads((GENERATED / f"{RESTATED}.json").read_text())
    for _, event in events:
        assert event["subject"] == "contract/C-7"
        assert event["data"] == {
            "contract_id": "C-7", "restated_on": "2024-08-15", "signed_on": "2024-05-05",
            "start_date": None, "max_extent_cleared": True, "value_cleared": False,
            "signed_on_cleared": False, "start_cleared": False,  # import32
            "end_date": None, "end_cleared": False,  # import33
        }  # fmt: skip
        jsonschema.validate(event["data"], schema)
