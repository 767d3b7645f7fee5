"""correct22: a live filter's `aggregateId` without `aggregateType` filters, as the query does.

The live `events` subscription narrowed to one aggregate only when both were given: with
`aggregateId` alone the id was dropped without a word and the subscriber received every event
of the stream -- another organisation's registration delivered as "the events of GM0518".
The event log's query (`events(filter: {aggregateId})`) filters by the id alone; now the live
field does too. Over the real websocket of a gateway on NATS.
"""

from __future__ import annotations

import pytest

from bootstrap.system import System
from contracts_schema.subjects import ENROLMENT
from gateway.auth import Role, issue_token
from gateway.serve import Server
from tests.integration.gateway.test_subscriptions import Subscriber, register
from tests.support.live_events import consumer_names, until_listening


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("given", ["id-alone", "id-and-type"])
async def test_a_live_filter_by_aggregate_id_delivers_that_aggregate_only(
    server: Server, system: System, given: str
) -> None:
    auditor = issue_token(system.settings, Role.AUDITOR, "a")
    sub = await Subscriber.connect(server, auditor)
    try:
        before = await consumer_names(system.nc, ENROLMENT.stream)
        wanted = {"aggregateId": "GM0518"}
        if given == "id-and-type":
            wanted["aggregateType"] = "ORGANISATION"
        await sub.subscribe({"f": wanted})
        await until_listening(system.nc, ENROLMENT.stream, before)
        await register(server, system, "GM0363", "Amsterdam")  # not asked for
        await register(server, system, "GM0518", "'s-Gravenhage")
        message = await sub.next()
        assert message["type"] == "next", message
        event = message["payload"]["data"]["events"]
        assert event["aggregateId"] == "GM0518", event  # before (id alone): GM0363's event
    finally:
        await sub.ws.close()
