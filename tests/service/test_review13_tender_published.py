"""review13: attack10 hid ParticipantListFrozen from participants because it names every
participant of a tender; TenderPublished carries the same frozen list (`participant_codes`),
so each participant still read who else enrolled from the event log. A coordinator still
reads it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest

from eventstore.clock import FixedClock
from eventstore.memory import InMemoryEventStore
from tests.integration.gateway.harness import Gateway
from tests.service.gateways import gateway_of_every_service

EVENTS = """query($f: EventFilter) { events(filter: $f, first: 100) {
  totalCount edges { node { id eventType payload } } } }"""


@pytest.fixture
async def gateway(
    store: InMemoryEventStore, clock: FixedClock, tmp_path: Path
) -> AsyncIterator[Gateway]:
    async with gateway_of_every_service(store, clock, tmp_path, demo=True) as g:
        await g.given("tender", "TenderPlanned", {
            "tender_id": "r13-t", "title": "Printers", "contracting_authority": "GM0363",
            "procedure": "open", "framework": True,
            "lots": [{"lot_id": "print", "title": "Printers"}], "planned_on": "2021-01-04"},
            on=date(2021, 1, 4))  # fmt: skip
        published = await g.given("tender", "TenderPublished", {
            "tender_id": "r13-t", "published_on": "2021-03-01", "notice_reference": "N-1",
            "participant_list_frozen_on": "2021-02-28",
            "participant_codes": ["GM0363", "GM0518", "GM0599"]}, on=date(2021, 3, 1))  # fmt: skip
        await g.settle(published)
        yield g


async def test_a_participant_does_not_read_every_participant_from_tender_published(
    gateway: Gateway,
) -> None:
    amsterdam = gateway.token("participant", "GM0363")
    body = await gateway.query(EVENTS, {"f": {"eventTypes": ["TenderPublished"]}}, token=amsterdam)
    assert "errors" not in body, body
    assert "GM0518" not in str(body), "another participant's enrolment read from TenderPublished"
    assert body["data"]["events"]["totalCount"] == 0
    coordinator = gateway.token("coordinator")
    seen = await gateway.query(
        EVENTS, {"f": {"eventTypes": ["TenderPublished"]}}, token=coordinator
    )
    assert "GM0518" in str(seen), seen
