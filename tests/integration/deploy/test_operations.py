"""Operating the distributed topology as compose runs it (issue 16), from empty, on loopback.

One module-scoped topology (`topology.Topology`: three NATS nodes from deploy/nats,
PostgreSQL from deploy/postgres/init, every compose service as its own process with its
compose environment, the reference-data job) serves every test here:

- first start: the job brings the reference data in, a coordinator enrols a municipality
  through the gateway with no manual step; running the job again changes nothing;
- every line every service wrote under GT_LOG_FORMAT=json parses as JSON;
- the REGISTRY stream's leader SIGKILLed under load: every mutation, each sent once through
  the gateway, is answered `accepted` (the gateway rides out the election), none is lost;
- the registry's processed-commands bucket losing its leader does not stall enrolment.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import date
from typing import Any

import httpx
import nats
import pytest
from nats.aio.client import Client as NATS

from bootstrap.reference_data import shipped_list
from contracts_schema.base import Command
from contracts_schema.enrolment import commands as en
from contracts_schema.registry import commands as rg
from contracts_schema.registry.values import Lot
from contracts_schema.subjects import ENROLMENT, REGISTRY
from eventstore.clock import SystemClock
from eventstore.processed import processed_bucket
from eventstore.store import EventStore
from gateway.commandbus import CommandBus
from tests.integration.deploy.cluster import NODES, service_credentials, stream_leader
from tests.integration.deploy.topology import SERVICES, Topology

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
LOAD = 60  # mutations sent through the gateway while the REGISTRY leader is killed
CONCURRENCY = 6


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    running = Topology(tmp_path_factory.mktemp("topology"))
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def first_start(topology: Topology) -> dict[str, Any]:
    """The compose one-shot job, as compose runs it after the enrolment service is healthy."""
    output = topology.run_job()
    summaries = [json.loads(line) for line in output.splitlines() if '"command_id"' in line]
    assert len(summaries) == 1, output[-2000:]
    return dict(summaries[0])


async def connect(topology: Topology, user: str = "gateway") -> NATS:
    return await nats.connect(
        topology.nats.urls,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.2,
        connect_timeout=2,
        **service_credentials(user),
    )


@pytest.fixture
async def nc(topology: Topology) -> AsyncIterator[NATS]:
    # The operator: it reads stream leaders and moves them (no service may).
    client = await connect(topology, "operator")
    yield client
    await client.close()


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


ENUM_FIELDS = {"procedure", "kind"}  # closed sets: GraphQL enums, sent by their names


def graphql_input(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            camel(k): v.upper() if k in ENUM_FIELDS else graphql_input(v)
            for k, v in value.items()
            if v is not None
        }
    if isinstance(value, list):
        return [graphql_input(v) for v in value]
    return value


async def mutate(http: httpx.AsyncClient, topology: Topology, command: Command) -> dict[str, Any]:
    """One command as the coordinator's GraphQL mutation, sent once; the result union."""
    name = camel(
        "".join(f"_{c.lower()}" if c.isupper() else c for c in command.command_type).lstrip("_")
    )
    input_type = command.command_type + "Input"
    query = (
        f"mutation($i: {input_type}!) {{ {name}(input: $i) {{ __typename"
        " ... on CommandSucceeded { consistencyToken duplicate }"
        " ... on DomainError { code message } } }"
    )
    response = await http.post(
        "/graphql",
        json={
            "query": query,
            "variables": {"i": graphql_input(command.model_dump(mode="json"))},
        },
        headers={"Authorization": f"Bearer {topology.token()}"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"][name]
    return result


def setup_commands(tender: str) -> list[Command]:
    return [
        rg.PlanProgramme(
            command_id=f"ops-programme-{tender}",
            programme_id=f"P-{tender}",
            name="Operations test programme",
            coordinator="GM0363",
        ),
        rg.PlanTender(
            command_id=f"ops-plan-{tender}",
            tender_id=tender,
            programme_id=f"P-{tender}",
            title="Operations test tender",
            contracting_authority="GM0363",
            procedure="open",
            framework=True,
            lots=[Lot(lot_id="lot-1", title="Lot 1")],
        ),
        en.OpenEnrolmentWindow(
            command_id=f"ops-window-{tender}",
            tender_id=tender,
            lot_ids=["lot-1"],
            opens_on=date.today(),
            closes_on=date(date.today().year + 1, 12, 31),
        ),
    ]


async def test_first_start_enrols_a_municipality_with_no_manual_step(
    topology: Topology, first_start: dict[str, Any]
) -> None:
    shipped = shipped_list()
    assert first_start["registered"] == 342
    assert (first_start["version"], first_start["sha256"]) == (shipped.version, shipped.digest)
    async with httpx.AsyncClient(base_url=topology.api, timeout=60) as http:
        for command in setup_commands("ops-first"):
            result = await mutate(http, topology, command)
            assert result["__typename"] == "CommandSucceeded", (command, result)
        enrolled = await mutate(
            http,
            topology,
            en.EnrolParticipant(
                command_id="ops-enrol-GM0518",
                tender_id="ops-first",
                organisation_code="GM0518",
                lot_ids=["lot-1"],
                power_of_attorney_ref="VOLMACHT-OPS-1",
            ),
        )
        assert enrolled["__typename"] == "CommandSucceeded", enrolled
    # The job again (every restart of the deployment runs it): nothing new.
    again = [json.loads(line) for line in topology.run_job().splitlines() if '"command_id"' in line]
    assert again[-1]["duplicate"] is True
    assert again[-1]["registered"] == 342  # the same events, answered again


def test_every_line_every_service_writes_is_json(
    topology: Topology, first_start: dict[str, Any]
) -> None:
    checked = 0
    for service in (*SERVICES, "reference-data"):
        for number, line in enumerate(
            (topology.logs / f"{service}.log").read_text().splitlines(), 1
        ):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                pytest.fail(f"{service}.log line {number} is not JSON: {line[:300]}")
            assert isinstance(entry, dict), (service, line)
            if "level" in entry:  # log records (the job's summary on stdout is JSON data)
                assert {"ts", "logger", "message", "correlation_id"} <= set(entry), entry
            checked += 1
    assert checked > 0
    print(f"\njson logs: {checked} lines, every one JSON")


async def test_leader_kill_under_load_every_mutation_accepted_none_lost(
    topology: Topology, first_start: dict[str, Any], nc: NATS
) -> None:
    commands = [
        rg.PlanProgramme(
            command_id=f"ops-load-{i}",
            programme_id=f"LOAD-{i}",
            name=f"Load programme {i}",
            coordinator="GM0363",
        )
        for i in range(LOAD)
    ]
    outcomes: dict[str, str] = {}
    killed: dict[str, str] = {}
    slots = asyncio.Semaphore(CONCURRENCY)

    async def kill_leader_once() -> None:
        if "node" in killed:
            return
        killed["node"] = ""  # claim before awaiting: one kill only
        killed["node"] = await stream_leader(nc, REGISTRY.stream)
        topology.nats.servers[killed["node"]].kill()

    async with httpx.AsyncClient(base_url=topology.api, timeout=120) as http:

        async def send(command: Command) -> None:
            async with slots:
                result = await mutate(http, topology, command)
            outcomes[command.command_id] = (
                "accepted"
                if result["__typename"] == "CommandSucceeded"
                else f"{result.get('code')}: {result.get('message')}"
            )
            if len(outcomes) == LOAD // 4:
                await kill_leader_once()

        await asyncio.gather(*(send(c) for c in commands))
    assert killed["node"] in NODES
    await asyncio.to_thread(topology.nats.servers[killed["node"]].start)
    await asyncio.to_thread(topology.nats.wait_healthy, 60)

    store = EventStore(nc, SystemClock())
    stored = {
        e.envelope.command_id
        async for e in store.read_stream(REGISTRY)
        if e.envelope.command_id.startswith("ops-load-")
    }
    accepted = [c for c, o in outcomes.items() if o == "accepted"]
    failed = {c: o for c, o in outcomes.items() if o != "accepted"}
    lost = [c for c in accepted if c not in stored]
    failed_but_stored = [c for c in failed if c in stored]
    print(
        f"\nleader kill ({killed['node']}) under load through the gateway: sent {len(commands)},"
        f" accepted {len(accepted)}, failed {len(failed)}, lost {len(lost)},"
        f" reported failed while stored {len(failed_but_stored)}"
    )
    assert failed == {}
    assert lost == []
    assert failed_but_stored == []
    assert len(stored) == LOAD


async def test_registry_bucket_leader_loss_does_not_stall_enrolment(
    topology: Topology, first_start: dict[str, Any], nc: NATS
) -> None:
    registry_kv = f"KV_{processed_bucket(REGISTRY)}"
    enrolment_streams = (ENROLMENT.stream, f"KV_{processed_bucket(ENROLMENT)}")
    victim = await stream_leader(nc, registry_kv)
    # Move enrolment's own leaders off the node that is going to die.
    for stream in enrolment_streams:
        for _ in range(10):
            if await stream_leader(nc, stream) != victim:
                break
            await nc.request(f"$JS.API.STREAM.LEADER.STEPDOWN.{stream}", b"", timeout=5)
            await asyncio.sleep(0.5)
        assert await stream_leader(nc, stream) != victim, stream
    survivors = [s.url for node, s in topology.nats.servers.items() if node != victim]
    client = await nats.connect(survivors, connect_timeout=2, **service_credentials("gateway"))
    topology.nats.servers[victim].kill()
    try:
        # The gateway's bus without its retries: a stall would show as an error reply.
        bus = CommandBus(client, timeout=10.0, retry_for=0)
        replies = [
            await bus.send(
                en.RegisterOrganisation(
                    command_id=f"ops-kv-{i}",
                    code=f"KVK-{70000000 + i}",
                    name=f"Supplier {i}",
                    kind="supplier",
                ),
                "operations-test",
            )
            for i in range(5)
        ]
    finally:
        await client.close()
        await asyncio.to_thread(topology.nats.servers[victim].start)
        await asyncio.to_thread(topology.nats.wait_healthy, 60)
    assert [getattr(r, "code", "accepted") for r in replies] == ["accepted"] * 5
