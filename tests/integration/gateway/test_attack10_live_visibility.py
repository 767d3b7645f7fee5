"""attack10: the live subscription keeps a participant to its own enrolments, as the event log
does (`tests/service/test_attack10_event_visibility.py`): `ParticipantListFrozen` names every
participant with its lots, so it was streamed to each participant subscribed, naming the
others. Now participants are not sent it; coordinators and auditors are."""

from __future__ import annotations

from pathlib import Path

import pytest
from nats.aio.client import Client as NATS

from bootstrap.system import System
from contracts_schema.subjects import ENROLMENT
from eventstore.clock import SystemClock
from eventstore.records import CommandMetadata, NewEvent
from eventstore.signing import local_signer
from eventstore.store import EventStore
from gateway.auth import Role, issue_token
from gateway.serve import Server
from tests.integration.gateway.test_subscriptions import Subscriber, register

FROZEN = {
    "tender_id": "gt-a10",
    "frozen_on": "2026-05-31",
    "participants": [
        {"organisation_code": "GM0363", "lot_ids": ["lot-1"]},
        {"organisation_code": "GM0518", "lot_ids": ["lot-2"]},
    ],
}


async def freeze(nats_client: NATS, data_dir: Path) -> None:
    """The enrolment service's own fact, signed with its key (as a freeze would store it)."""
    store = EventStore(
        nats_client, SystemClock(), signers={"enrolment": local_signer(data_dir, "enrolment")}
    )
    history = await store.load(ENROLMENT, "enrolment_window", "gt-a10")
    await store.append(
        history,
        [NewEvent("ParticipantListFrozen", 1, FROZEN, SystemClock().now())],
        CommandMetadata("a10-freeze", "coordinator:test", "a10-freeze"),
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_participant_is_not_streamed_the_list_of_every_participant(
    server: Server, system: System, nats_client: NATS, tmp_path: Path
) -> None:
    after = await register(server, system, "GM0001", "One")
    amsterdam = issue_token(system.settings, Role.PARTICIPANT, "p", organisation="GM0363")
    auditor = issue_token(system.settings, Role.AUDITOR, "a")
    participant, whole = (
        await Subscriber.connect(server, amsterdam),
        await Subscriber.connect(server, auditor),
    )
    for sub in (participant, whole):
        await sub.subscribe({"f": {"contexts": ["ENROLMENT"]}, "after": after})
    await freeze(nats_client, tmp_path)
    await register(server, system, "GM0363", "Amsterdam")  # the next event Amsterdam is sent

    seen = (await whole.next())["payload"]["data"]["events"]
    assert seen["eventType"] == "ParticipantListFrozen"  # the auditor reads the fact whole
    message = await participant.next()
    assert message["type"] == "next", message
    event = message["payload"]["data"]["events"]
    assert (event["eventType"], event["aggregateId"]) == ("OrganisationRegistered", "GM0363"), event
    for sub in (participant, whole):
        await sub.ws.close()
