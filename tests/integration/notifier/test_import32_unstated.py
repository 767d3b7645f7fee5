"""What an imported source does not state reaches the integration feed as not stated
(import32; import30 recorded it, the feed did not say so):

- `nl.gt.contract.restated.v1` of a contract whose signing day or start is no longer stated
  carries `signed_on_cleared` / `start_cleared` (before: an empty restatement, every field
  null or false);
- `nl.gt.contract.signed.v1` of a contract signed without a stated signing day or start
  carries `signed_on_stated` / `start_stated` false (before: the registry's default days
  sent as published);
- `nl.gt.enrolment.opened.v1` of a tender without a stated title sends no title (null) and
  `title_stated` false, not the registry's default (its ocid) as a title; a title stated
  later is sent, stated.

Each payload valid against its generated JSON Schema (the new fields optional: a consumer of
v1 that does not know them reads the same event)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import jsonschema
from nats.aio.client import Client as NATS

from contracts_schema.enrolment.events import EnrolmentWindowOpened
from contracts_schema.registry.events import ContractRestated, TenderPlanned, TenderRestated
from contracts_schema.registry.values import ContractSupplier, Lot
from eventstore.clock import FixedClock
from eventstore.store import EventStore
from tests.integration.notifier.facts import frozen_list, given, signed
from tests.integration.notifier.test_integration_feed import GENERATED, feed, published

RESTATED = "nl.gt.contract.restated.v1"
SIGNED = "nl.gt.contract.signed.v1"
OPENED = "nl.gt.enrolment.opened.v1"


def _valid(kind: str, data: dict[str, Any]) -> None:
    jsonschema.validate(data, json.loads((GENERATED / f"{kind}.json").read_text()))


async def test_a_day_no_longer_stated_reaches_the_contracts_organisations(
    nats_client: NATS, fixed_clock: FixedClock, database_url: str
) -> None:
    store = EventStore(nats_client, fixed_clock)
    await frozen_list(store, "T-8", "GM0363")
    await signed(store, "C-8", "T-8", signed_on=date(2024, 6, 1), end=date(2026, 6, 30))
    cleared = ContractRestated(contract_id="C-8", restated_on=date(2024, 8, 15),
                               signed_on_cleared=True, start_cleared=True)  # fmt: skip
    await given(store, "C-8", cleared, "restate-C-8")
    await published(nats_client, fixed_clock, database_url)

    events = [(s, e) for s, e in await feed(nats_client) if e["type"] == RESTATED]
    assert sorted(s for s, _ in events) == [
        f"gt.org.GM0363.{RESTATED}",
        f"gt.org.OIN-00000001234567890000.{RESTATED}",
    ]
    for _, event in events:
        assert event["data"] == {
            "contract_id": "C-8", "restated_on": "2024-08-15", "signed_on": None,
            "start_date": None, "max_extent_cleared": False, "value_cleared": False,
            "signed_on_cleared": True, "start_cleared": True,
            "end_date": None, "end_cleared": False,  # import33
        }  # fmt: skip
        _valid(RESTATED, event["data"])


async def test_a_contract_signed_without_stated_days_says_so(
    nats_client: NATS, fixed_clock: FixedClock, database_url: str
) -> None:
    from contracts_schema.registry.events import ContractSigned

    store = EventStore(nats_client, fixed_clock)
    await frozen_list(store, "T-6", "GM0363")
    await signed(store, "C-5", "T-6", signed_on=date(2024, 6, 1), end=date(2026, 6, 30))
    unstated = ContractSigned(
        contract_id="C-6", kind="contract", tender_id="T-6", lot_ids=["L1"],
        contracting_authority="OIN-00000001234567890000",
        suppliers=[ContractSupplier(supplier_id="KVK-12345678", name="KPN B.V.", lot_ids=["L1"])],
        signed_on=date(2024, 3, 15), start_date=date(2024, 3, 15), end_date=date(2026, 6, 30),
        max_extent_date=None, signed_on_stated=False, start_stated=False,
    )  # fmt: skip
    await given(store, "C-6", unstated, "sign-C-6")
    await published(nats_client, fixed_clock, database_url)

    shown = {
        (e["subject"], e["data"]["signed_on_stated"], e["data"]["start_stated"])
        for _, e in await feed(nats_client)
        if e["type"] == SIGNED
    }
    assert shown == {("contract/C-5", True, True), ("contract/C-6", False, False)}
    for _, e in await feed(nats_client):
        if e["type"] == SIGNED:
            _valid(SIGNED, e["data"])


def _planned(tender_id: str, title_stated: bool) -> TenderPlanned:
    return TenderPlanned(
        tender_id=tender_id, title=tender_id if not title_stated else "Telefonie",
        contracting_authority="KVK-71830960", procedure="open", framework=True,
        lots=[Lot(lot_id="L1", title="L1")], planned_on=date(2024, 1, 15),
        title_stated=title_stated, untitled_lot_ids=["L1"],
    )  # fmt: skip


async def test_an_opened_window_sends_no_made_up_title(
    nats_client: NATS, fixed_clock: FixedClock, database_url: str
) -> None:
    """Three imported tenders: planned without a title; planned titled, its title no longer
    stated by a later release; planned without one, titled by a later release."""
    store = EventStore(nats_client, fixed_clock)
    untitled, cleared, titled_later = "ocds-gtnl99-u1", "ocds-gtnl99-u2", "ocds-gtnl99-u3"
    await given(store, untitled, _planned(untitled, False), "plan-u1")
    await given(store, cleared, _planned(cleared, True), "plan-u2")
    await given(store, cleared, TenderRestated(tender_id=cleared, restated_on=date(2024, 2, 15),
                                               title_stated=False), "restate-u2")  # fmt: skip
    await given(store, titled_later, _planned(titled_later, False), "plan-u3")
    await given(store, titled_later, TenderRestated(tender_id=titled_later,
                                                    restated_on=date(2024, 2, 15),
                                                    title="Telefonie 3"), "restate-u3")  # fmt: skip
    for tid in (untitled, cleared, titled_later):
        opened = EnrolmentWindowOpened(tender_id=tid, lot_ids=["L1"], opens_on=date(2024, 4, 1),
                                       closes_on=date(2024, 5, 1))  # fmt: skip
        await given(store, tid, opened, f"open-{tid}")
    await published(nats_client, fixed_clock, database_url)

    events = [e for _, e in await feed(nats_client) if e["type"] == OPENED]
    shown = {e["data"]["tender_id"]: (e["data"]["title"], e["data"]["title_stated"])
             for e in events}  # fmt: skip
    assert shown == {
        untitled: (None, False),
        cleared: (None, False),
        titled_later: ("Telefonie 3", True),
    }
    for e in events:
        _valid(OPENED, e["data"])
