"""An imported tender restated by a later release (import20's `TenderRestated`) is named by
its restated title in the integration feed (import22): the notifier's read model followed
`TenderPlanned` only, so `nl.gt.enrolment.opened.v1` named the tender by the title it was
planned with while GraphQL, the OCDS export and the audit showed the restated one."""

from __future__ import annotations

from datetime import date

from nats.aio.client import Client as NATS

from contracts_schema.enrolment.events import EnrolmentWindowOpened
from contracts_schema.registry.events import TenderPlanned, TenderRestated
from contracts_schema.registry.values import Lot
from eventstore.clock import FixedClock
from eventstore.store import EventStore
from tests.integration.notifier.facts import given
from tests.integration.notifier.test_integration_feed import feed, published

OPENED = "nl.gt.enrolment.opened.v1"
TENDER = "ocds-gtnl99-n1"


async def test_an_opened_window_names_the_tender_by_its_restated_title(
    nats_client: NATS, fixed_clock: FixedClock, database_url: str
) -> None:
    store = EventStore(nats_client, fixed_clock)
    planned = TenderPlanned(
        tender_id=TENDER, title="Telefonie", contracting_authority="KVK-71830960",
        procedure="open", framework=True, lots=[Lot(lot_id="L1", title="Vast")],
        planned_on=date(2024, 1, 15),
    )  # fmt: skip
    await given(store, TENDER, planned, "plan")
    # Restated without a title first (the title stays), then with one.
    await given(store, TENDER, TenderRestated(tender_id=TENDER, restated_on=date(2024, 2, 15),
                                              framework=False), "restate-1")  # fmt: skip
    await given(store, TENDER, TenderRestated(tender_id=TENDER, restated_on=date(2024, 3, 15),
                                              title="Telefonie 2"), "restate-2")  # fmt: skip
    opened = EnrolmentWindowOpened(
        tender_id=TENDER, lot_ids=["L1"], opens_on=date(2024, 4, 1), closes_on=date(2024, 5, 1)
    )
    await given(store, TENDER, opened, "open")
    await published(nats_client, fixed_clock, database_url)

    [event] = [e for _, e in await feed(nats_client) if e["type"] == OPENED]
    assert event["data"]["title"] == "Telefonie 2"
