"""A contract whose imported source states no end, or no longer does (import33), never
"expires": the notifier raises no expiry warning for its recorded end (2100-12-31, the
registry's last day, not a published one), while an end stated at last is warned of as any.
The integration feed says so: `nl.gt.contract.signed.v1` carries `end_stated` false,
`nl.gt.contract.restated.v1` `end_cleared` or the `end_date` now stated (optional fields:
a consumer of v1 that does not know them reads the same event). Real NATS, SQLite and
PostgreSQL."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import jsonschema
from nats.aio.client import Client as NATS

from contracts_schema.registry.events import ContractRestated, ContractSigned
from contracts_schema.registry.values import ContractSupplier
from eventstore.clock import FixedClock
from eventstore.store import EventStore
from tests.integration.notifier.facts import frozen_list, given, notifier, signed
from tests.integration.notifier.test_integration_feed import GENERATED, feed, published

RESTATED = "nl.gt.contract.restated.v1"
SIGNED = "nl.gt.contract.signed.v1"
END = date(2026, 6, 30)
OPEN_END = date(2100, 12, 31)


def _unstated(contract_id: str) -> ContractSigned:
    return ContractSigned(
        contract_id=contract_id, kind="contract", tender_id="T-33", lot_ids=["L1"],
        contracting_authority="OIN-00000001234567890000",
        suppliers=[ContractSupplier(supplier_id="KVK-12345678", name="KPN B.V.", lot_ids=["L1"])],
        signed_on=date(2024, 6, 1), start_date=date(2024, 6, 1), end_date=OPEN_END,
        max_extent_date=None, end_stated=False,
    )  # fmt: skip


async def _contracts(store: EventStore) -> None:
    """C-S: an end stated. C-U: none stated. C-X: stated, then no longer (2024-06-15).
    C-L: none stated, then stated at last (2024-06-15). Each signed 2024-06-01."""
    await frozen_list(store, "T-33", "GM0363")
    await signed(store, "C-S", "T-33", signed_on=date(2024, 6, 1), end=END)
    await given(store, "C-U", _unstated("C-U"), "sign-C-U")
    await signed(store, "C-X", "T-33", signed_on=date(2024, 6, 1), end=END)
    cleared = ContractRestated(contract_id="C-X", restated_on=date(2024, 6, 15), end_cleared=True)
    await given(store, "C-X", cleared, "restate-C-X")
    await given(store, "C-L", _unstated("C-L"), "sign-C-L")
    stated = ContractRestated(contract_id="C-L", restated_on=date(2024, 6, 15), end_date=END)
    await given(store, "C-L", stated, "restate-C-L")


async def test_no_expiry_warning_for_an_end_not_stated(
    nats_client: NATS, fixed_clock: FixedClock, database_url: str
) -> None:
    """Fails before: C-X's end no longer stated still warned of (its last stated end)."""
    store = EventStore(nats_client, fixed_clock)
    await _contracts(store)
    service = notifier(nats_client, fixed_clock, database_url)
    await service.start(commands=False, webhooks=False)
    try:
        seen = {}
        for day in (date(2024, 6, 30), date(2025, 6, 30), END, date(2100, 12, 31)):
            result = await service.tick(day)
            seen[day.isoformat()] = sorted((w.contract_id, w.stage) for w in result.raised)
    finally:
        await service.stop()
    assert seen == {
        "2024-06-30": [("C-L", "24m"), ("C-S", "24m")],
        "2025-06-30": [("C-L", "12m"), ("C-S", "12m")],
        "2026-06-30": [("C-L", "expiry"), ("C-S", "expiry")],
        "2100-12-31": [],  # the recorded end of C-U and C-X is no end to warn of
    }


def _valid(kind: str, data: dict[str, Any]) -> None:
    jsonschema.validate(data, json.loads((GENERATED / f"{kind}.json").read_text()))


async def test_the_feed_says_an_end_is_not_stated(
    nats_client: NATS, fixed_clock: FixedClock, database_url: str
) -> None:
    """Fails before: no `end_stated`, `end_cleared` or `end_date` (C-X's restatement empty)."""
    store = EventStore(nats_client, fixed_clock)
    await _contracts(store)
    await published(nats_client, fixed_clock, database_url)
    events = [e for _, e in await feed(nats_client)]
    signed_ = {e["subject"]: (e["data"]["end_date"], e["data"]["end_stated"])
               for e in events if e["type"] == SIGNED}  # fmt: skip
    assert signed_ == {
        "contract/C-S": ("2026-06-30", True),
        "contract/C-U": ("2100-12-31", False),
        "contract/C-X": ("2026-06-30", True),
        "contract/C-L": ("2100-12-31", False),
    }
    restated = {e["subject"]: (e["data"]["end_date"], e["data"]["end_cleared"])
                for e in events if e["type"] == RESTATED}  # fmt: skip
    assert restated == {"contract/C-X": (None, True), "contract/C-L": ("2026-06-30", False)}
    for e in events:
        if e["type"] in (SIGNED, RESTATED):
            _valid(e["type"], e["data"])
