"""A command that changes nothing (the same registration again, under a new command id) is
accepted with a consistency token naming its aggregate's last event, so a read with that
token waits for the write that made the command change nothing. Before (correct17's finding)
its token was empty: a read with it waited for nothing and could answer without that write."""

from __future__ import annotations

import httpx
from nats.aio.client import Client as NATS

from bootstrap.system import System
from contracts_schema.subjects import ENROLMENT
from eventstore.store import EventStore
from tests.integration.audit.test_readers_refuse_forgeries import REGISTER, gql


async def test_a_command_that_changes_nothing_names_its_aggregates_last_event(
    system: System, client: httpx.AsyncClient, nats_client: NATS
) -> None:
    command = {"code": "GM0042", "name": "Twee", "kind": "MUNICIPALITY"}
    first = await gql(client, system, REGISTER, {"i": command | {"commandId": "reg-1"}})
    assert first["registerOrganisation"]["__typename"] == "CommandSucceeded", first
    store = EventStore(nats_client, system.clock)
    history = await store.load(ENROLMENT, "organisation", "GM0042")
    assert history.last_seq > 0

    again = await gql(client, system, REGISTER, {"i": command | {"commandId": "reg-2"}})

    answer = again["registerOrganisation"]
    assert answer["__typename"] == "CommandSucceeded", answer
    assert answer["consistencyToken"] == f"{ENROLMENT.stream}:{history.last_seq}", answer
    assert answer["consistencyToken"] == first["registerOrganisation"]["consistencyToken"]
