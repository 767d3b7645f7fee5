"""Live events over graphql-transport-ws: within a second of the mutation, and resumable."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import websockets

from bootstrap.system import System
from contracts_schema.subjects import ENROLMENT
from gateway.auth import Role, issue_token
from gateway.serve import Server
from tests.support.live_events import consumer_names, until_listening

SUBSCRIBE = """subscription($f: LiveEventFilter, $after: String) {
  events(filter: $f, after: $after) { eventType aggregateId position payload } }"""
REGISTER = """mutation($i: RegisterOrganisationInput!) { registerOrganisation(input: $i) {
  __typename ... on CommandSucceeded { consistencyToken } } }"""


class Subscriber:
    def __init__(self, ws: Any) -> None:
        self.ws = ws

    @classmethod
    async def connect(cls, server: Server, token: str | None) -> Subscriber:
        ws = await websockets.connect(
            server.url.replace("http", "ws") + "/graphql",
            subprotocols=["graphql-transport-ws"],
            open_timeout=60,
        )
        payload = {"Authorization": f"Bearer {token}"} if token else {}
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        return cls(ws)

    async def subscribe(self, variables: dict[str, Any]) -> None:
        await self.ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": SUBSCRIBE, "variables": variables},
                }
            )
        )

    async def errors(self) -> list[str]:
        message = await self.next()
        payload = message["payload"]
        errors = payload if message["type"] == "error" else payload["errors"]
        return [e["message"] for e in errors]

    async def next(self, timeout: float = 30.0) -> dict[str, Any]:
        while True:  # a finished subscription's `complete` is not what the tests wait for
            message: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if message["type"] != "complete":
                return message


async def register(server: Server, system: System, code: str, name: str) -> str:
    # A mutation under a loaded CI took longer than httpx's default 5 s (CI87): a bound on a
    # hang, not on a speed.
    token = issue_token(system.settings, Role.COORDINATOR, "c")
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        response = await client.post(
            "/graphql",
            json={
                "query": REGISTER,
                "variables": {"i": {"code": code, "name": name, "kind": "MUNICIPALITY"}},
            },
            headers={"Authorization": f"Bearer {token}"},
        )
    result = response.json()["data"]["registerOrganisation"]
    assert result["__typename"] == "CommandSucceeded", result
    return str(result["consistencyToken"])


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_mutation_s_event_arrives_and_resumes_after_disconnect(
    server: Server, system: System
) -> None:
    auditor = issue_token(system.settings, Role.AUDITOR, "a")
    sub = await Subscriber.connect(server, auditor)
    before = await consumer_names(system.nc, ENROLMENT.stream)
    await sub.subscribe({"f": {"eventTypes": ["OrganisationRegistered"]}})
    await until_listening(system.nc, ENROLMENT.stream, before)  # only new events are streamed
    # How soon is the freshness benchmark's figure (never a timed assertion here).
    await register(server, system, "GM0363", "Amsterdam")
    message = await sub.next()
    assert message["type"] == "next", message
    event = message["payload"]["data"]["events"]
    assert event["eventType"] == "OrganisationRegistered"
    assert event["aggregateId"] == "GM0363"
    last_seen = event["position"]
    await sub.ws.close()

    # While disconnected, two more bodies are registered; resuming after the last seen
    # position delivers exactly those, in order.
    await register(server, system, "GM0518", "'s-Gravenhage")
    await register(server, system, "GM0599", "Rotterdam")
    sub = await Subscriber.connect(server, auditor)
    await sub.subscribe({"f": {"contexts": ["ENROLMENT"]}, "after": last_seen})
    codes = [(await sub.next())["payload"]["data"]["events"]["aggregateId"] for _ in range(2)]
    assert codes == ["GM0518", "GM0599"]
    await sub.ws.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_subscriptions_are_signed_in_and_participants_see_their_own(
    server: Server, system: System
) -> None:
    anonymous = await Subscriber.connect(server, None)
    await anonymous.subscribe({})
    assert await anonymous.errors() == ["live events is not public; sign in with a bearer token"]
    await anonymous.ws.close()

    participant = issue_token(system.settings, Role.PARTICIPANT, "p", organisation="GM0518")
    sub = await Subscriber.connect(server, participant)
    await sub.subscribe({"f": {"organisationCode": "GM0363"}})
    assert await sub.errors() == ["events of GM0363 are not yours to read"]
    before = await consumer_names(system.nc, ENROLMENT.stream)
    await sub.subscribe({})
    await until_listening(system.nc, ENROLMENT.stream, before)
    await register(server, system, "GM0363", "Amsterdam")
    await register(server, system, "GM0518", "'s-Gravenhage")
    own = await sub.next()
    assert own["payload"]["data"]["events"]["aggregateId"] == "GM0518"
    await sub.ws.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_only_the_graphql_transport_ws_protocol_is_spoken(server: Server) -> None:
    async with websockets.connect(
        server.url.replace("http", "ws") + "/graphql", subprotocols=["graphql-ws"], open_timeout=60
    ) as ws:
        with pytest.raises(websockets.exceptions.ConnectionClosedError) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4406  # "Subprotocol not acceptable"
