"""attack9: what the read models refuse is not streamed to live subscribers either.

trust8 made every reader park an event published with a stream's NATS login but without the
service's key; the gateway's live subscription (graphql-transport-ws `events`) decoded the
stream's messages itself and sent each to its subscribers as fact: a forged rename of an
organisation reached every municipal system subscribed, as did an exact re-published copy.
Now it reads them as the projections do and skips what they would park, logging why. (The
undecodable case passed before too: the decode raised inside the NATS callback; it stays as
the guard that skipping is not raising.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from nats.aio.client import Client as NATS

from bootstrap.system import System
from contracts_schema.subjects import ENROLMENT
from gateway.auth import Role, issue_token
from gateway.serve import Server
from tests.integration.audit.test_readers_refuse_forgeries import FORGERIES, last_event
from tests.integration.gateway.test_subscriptions import Subscriber, register

KINDS = [*FORGERIES, "undecodable"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("kind", KINDS)
async def test_a_forged_event_is_not_streamed_to_live_subscribers(
    server: Server, system: System, nats_client: NATS, tmp_path: Path, kind: str
) -> None:
    after = await register(server, system, "GM0001", "One")
    auditor = issue_token(system.settings, Role.AUDITOR, "a")
    sub = await Subscriber.connect(server, auditor)
    # From the registration's position on: what follows it in ENROLMENT, in order.
    await sub.subscribe({"f": {"contexts": ["ENROLMENT"]}, "after": after})
    last, raw = await last_event(nats_client, system, "GM0001")
    forged = b"{not json" if kind == "undecodable" else FORGERIES[kind][0](last, raw, tmp_path)
    await nats_client.jetstream().publish(last.subject, forged, stream=ENROLMENT.stream)
    await register(server, system, "GM0009", "Nine")

    message = await sub.next()
    assert message["type"] == "next", message
    event = message["payload"]["data"]["events"]
    assert (event["eventType"], event["aggregateId"]) == ("OrganisationRegistered", "GM0009")
    await sub.ws.close()
