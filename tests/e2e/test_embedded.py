"""The embedded system end to end: the `make run` bootstrap, a real HTTP client answering the
README's example queries on the demo data, and a websocket client receiving live events."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
import pytest_asyncio
import websockets

from bootstrap.demo import load_demo
from bootstrap.embedded import embedded
from bootstrap.system import System
from contracts_schema.subjects import ENROLMENT
from gateway.auth import Role, issue_token
from gateway.commandbus import CommandBus
from gateway.serve import Server
from notifier.nats_accounts import OPERATOR_USER
from tests.support.live_events import consumer_names, until_listening

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_examples() -> list[str]:
    section = README.read_text().split("## Example queries", 1)[1]
    return re.findall(r"```graphql\n(.*?)```", section, flags=re.S)


pytestmark = pytest.mark.asyncio(loop_scope="module")


# One system for the module: the tests read the demo data (what the other one writes leaves
# their answers alike: a new organisation, GM0363 renamed to a name the search still finds).
@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def running(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[System, Server]]:
    data: Path = tmp_path_factory.mktemp("embedded") / "data"
    async with embedded(data, port=0) as (system, server):
        refused: list[str] = []
        # A generous reply timeout: on a loaded machine the bus's default timed out, sent a
        # command again and counted its duplicate reply as known (42, 1).
        demo = await load_demo(CommandBus(system.nc, timeout=120), say=refused.append)
        assert refused == []
        # with the four suppliers registered, and the 11 organisations it names dated back
        assert (demo.new, demo.known) == (43, 0)
        assert system.read is not None
        await system.read.wait_for(demo.consistency_token, timeout=120)  # as `make run` does
        yield system, server


async def post(server: Server, query: str, token: str | None, **headers: str) -> dict[str, Any]:
    if token:
        headers["Authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        response = await client.post("/graphql", json={"query": query}, headers=headers)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def test_readme_examples_answer_with_the_demo_data(running: tuple[System, Server]) -> None:
    system, server = running
    coordinator = issue_token(system.settings, Role.COORDINATOR, "e2e")
    examples = readme_examples()
    assert len(examples) == 8
    answers = []
    for example in examples:
        body = await post(server, example, coordinator)
        assert "errors" not in body, (example, body)
        answers.append(body["data"])
    tenders, expiring, framework, amsterdam, stats, log, command, search = answers
    assert [o["code"] for o in search["organisations"]["nodes"]] == ["GM0363"]
    assert search["statistics"]["participation"]["participating"] == 5
    assert {t["tenderId"] for t in tenders["tenders"]["nodes"]} == {"gt-mc1", "vt-0800-2000"}
    assert expiring["expiringContracts"]["nodes"][0]["contractId"] == "gt-mc1-framework"
    assert len(framework["contract"]["participants"]) == 5
    assert [c["supplier"]["name"] for c in framework["contract"]["callOffs"]] == ["KPN", "Vodafone"]
    assert (
        amsterdam["organisation"]["participations"][0]["powerOfAttorneyRef"]
        == "VOLMACHT-2015-GM0363"
    )
    gt = stats["statistics"]["participationByProgramme"][0]
    assert (gt["key"], gt["participating"]) == ("GT", 5)
    assert [e["eventType"] for e in log["events"]["nodes"]][:2] == [
        "TenderPlanned",
        "TenderPublished",
    ]
    result = command["registerOrganisation"]
    assert result["__typename"] == "CommandSucceeded"
    assert result["node"] == {"code": "KVK-12345678", "name": "Veilig Thuis Voorbeeld"}

    # The token makes the next query see the write; an anonymous client still sees public facts.
    read = await post(
        server,
        '{ organisation(code: "KVK-12345678") { name } }',
        None,
        **{"X-Consistency-Token": result["consistencyToken"]},
    )
    assert read["data"]["organisation"] == {"name": "Veilig Thuis Voorbeeld"}
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        graphiql = await client.get("/graphql", headers={"Accept": "text/html"})
    assert "graphiql" in graphiql.text.lower()


async def test_websocket_client_sees_the_mutation_s_event(running: tuple[System, Server]) -> None:
    system, server = running
    token = issue_token(system.settings, Role.AUDITOR, "e2e")
    async with websockets.connect(
        server.url.replace("http", "ws") + "/graphql",
        subprotocols=["graphql-transport-ws"],
        open_timeout=60,
    ) as ws:
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        )
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        query = 'subscription { events(filter: {aggregateType: ORGANISATION, aggregateId: "GM0363"}) { eventType payload } }'
        # The gateway's own login may not list consumers; the operator's may.
        assert system.logins is not None
        operator = await nats.connect(
            system.logins.url,
            user=OPERATOR_USER,
            password=system.logins.password(OPERATOR_USER),
        )
        try:
            before = await consumer_names(operator, ENROLMENT.stream)
            subscribe = {"id": "e2e", "type": "subscribe", "payload": {"query": query}}
            await ws.send(json.dumps(subscribe))
            await until_listening(operator, ENROLMENT.stream, before)  # only new events stream
        finally:
            await operator.close()
        rename = """mutation { renameOrganisation(input: {commandId: "e2e-rename", code: "GM0363",
          name: "Gemeente Amsterdam"}) { __typename } }"""
        coordinator = issue_token(system.settings, Role.COORDINATOR, "e2e")
        assert (await post(server, rename, coordinator))["data"]["renameOrganisation"] == {
            "__typename": "CommandSucceeded"
        }
        message = json.loads(await asyncio.wait_for(ws.recv(), 30))  # a bound, not a figure
    event = message["payload"]["data"]["events"]
    assert event["eventType"] == "OrganisationRenamed"
    assert event["payload"]["name"] == "Gemeente Amsterdam"
