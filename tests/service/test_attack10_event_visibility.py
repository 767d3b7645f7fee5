"""attack10: a participant reads no other participant's enrolment through the event log.

The gateway keeps participants to their own enrolments on every path to a `Participant`
(finding 6). The event log gives a participant every event whose payload names its code, and
`ParticipantListFrozen` names every participant of the tender with its lots: Amsterdam read
that 's-Gravenhage and Rotterdam enrolled, and for which lots, from `events` (and by the
event's `node(id:)`). Now such an event is for coordinators and auditors only
(`gateway.event_visibility`); the same rule holds for the live subscription
(`tests/integration/gateway/test_attack10_live_visibility.py`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest

from eventstore.clock import FixedClock
from eventstore.memory import InMemoryEventStore
from tests.integration.gateway.harness import Gateway
from tests.service.gateways import gateway_of_every_service

FROZEN = "ParticipantListFrozen"
EVENTS = """query($f: EventFilter) { events(filter: $f, first: 100) {
  totalCount edges { node { id eventType payload } } } }"""
NODE = "query($id: ID!) { node(id: $id) { ... on Event { eventType payload } } }"


@pytest.fixture
async def gateway(
    store: InMemoryEventStore, clock: FixedClock, tmp_path: Path
) -> AsyncIterator[Gateway]:
    async with gateway_of_every_service(store, clock, tmp_path, demo=True) as g:
        frozen = await g.given(
            "enrolment_window",
            FROZEN,
            {
                "tender_id": "gt-mc1",
                "frozen_on": "2015-05-31",
                "participants": [
                    {"organisation_code": code, "lot_ids": ["mobile"]}
                    for code in ("GM0363", "GM0518", "GM0599")
                ],
            },
            on=date(2015, 5, 31),
        )
        await g.settle(frozen)
        yield g


async def test_a_participant_does_not_read_the_frozen_list_of_every_participant(
    gateway: Gateway,
) -> None:
    amsterdam = gateway.token("participant", "GM0363")
    coordinator = gateway.token("coordinator")
    whole = await gateway.query(EVENTS, {"f": {"eventTypes": [FROZEN]}}, token=coordinator)
    assert "errors" not in whole, whole
    [edge] = whole["data"]["events"]["edges"]
    listed = {p["organisation_code"] for p in edge["node"]["payload"]["participants"]}
    assert listed == {"GM0363", "GM0518", "GM0599"}  # coordinators read the fact whole

    for asked in ({"eventTypes": [FROZEN]}, {"organisationCode": "GM0363"}, None):
        body = await gateway.query(EVENTS, {"f": asked}, token=amsterdam)
        assert "errors" not in body, body
        seen = [e["node"]["eventType"] for e in body["data"]["events"]["edges"]]
        assert FROZEN not in seen, (asked, seen)
        assert "GM0518" not in str(body), asked  # no trace of another's enrolment
    own = await gateway.query(EVENTS, None, token=amsterdam)
    assert own["data"]["events"]["totalCount"] > 0  # its own events are still there

    by_id = await gateway.query(NODE, {"id": edge["node"]["id"]}, token=amsterdam)
    assert by_id == {"data": {"node": None}}, by_id
    assert (await gateway.query(NODE, {"id": edge["node"]["id"]}, token=coordinator))["data"][
        "node"
    ]["eventType"] == FROZEN
