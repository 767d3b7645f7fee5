"""The `make run` demo, verified and rebuilt: `audit verify` passes on it and names what a
tamperer changed (a row of a gateway, enrolment or notifier read model, a stored event, a
deleted event), and a full rebuild of every projection into a fresh database answers GraphQL
byte for byte the same."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import nats
import pytest
import pytest_asyncio
from nats.aio.client import Client as NATS
from sqlalchemy import MetaData, select, update
from typer.testing import CliRunner

from audit.rebuild import rebuild
from audit.wiring import database_variable
from bootstrap.audit_cli import audit_app
from bootstrap.parts import projection_runner
from bootstrap.read_models import AUDIT_DB, ENROLMENT_DB, NOTIFIER_DB, READ_MODELS, READ_MODELS_DB
from bootstrap.system import System
from enrolment.registry_facts import RegistryFacts
from eventstore.signing import PUBLIC_KEYS_ENV, trusted_keys
from eventstore.sql import make_engine
from eventstore.store import EventStore
from eventstore.testing.nats_server import NatsServer
from eventstore.timeline import FOREVER
from gateway.app import build_app
from gateway.auth import Role, issue_token
from gateway.history.sources import audit_sources
from gateway.projections import TendersProjection
from gateway.readmodels import ReadModels
from gateway.settings import GatewaySettings
from notifier.projection import NotifierSchedule
from tests.support.demo_system import caught_up, load_the_demo

pytestmark = pytest.mark.asyncio(loop_scope="module")
cli = CliRunner()


@dataclass
class Demo:
    nc: NATS
    system: System
    nats_url: str
    database_url: str
    data: Path

    @property
    def verify_args(self) -> list[str]:
        args = ["verify", "--nats-url", self.nats_url, "--database-url", self.database_url]
        for runner in self.system.all_runners:  # the read models this system runs
            args += ["--projection", runner.projection.name]
        return args

    @property
    def environment(self) -> dict[str, str]:
        """Where the services' own read-model databases are, as a deployment would say."""
        databases = self.system.databases
        # ... and the services' public signing keys (docs/security.md).
        keys = ",".join(f"{c}={k}" for c, ks in trusted_keys(self.data).items() for k in ks)
        # GT_DATA_DIR: this demo's directory, never the checkout's ./data, where a `make run`
        # beside the suite keeps an endpoints.json the CLI would otherwise fall back to.
        return {database_variable(d): databases[d] for d in (ENROLMENT_DB, NOTIFIER_DB)} | {
            PUBLIC_KEYS_ENV: keys,
            "GT_DATA_DIR": str(self.data),
        }


@asynccontextmanager
async def bootstrap(data: Path, *, tamperable: bool) -> AsyncIterator[Demo]:
    """The embedded system's wiring and demo history; runners stopped once caught up.
    Whatever fails on the way, what was started is stopped (a failed load left the broker
    and the system running for as long as the worker lived)."""
    async with AsyncExitStack() as started:
        broker = NatsServer(data / "jetstream").start()
        started.callback(broker.stop)
        nc = await nats.connect(broker.url)
        started.push_async_callback(nc.close)
        url = f"sqlite:///{data / 'read-models.db'}"
        settings = GatewaySettings(database_url=url, jwt_secret="s" * 40)
        # The real system's streams deny deletes and purges (and the notifier insists on it);
        # the tampering tests play an operator who got past that, e.g. by restoring a doctored
        # backup, so their streams allow it and the notifier stays off.
        system = System(
            nc, data, settings, with_notifier=not tamperable, protect_streams=not tamperable
        )
        started.push_async_callback(system.stop)
        await system.start()
        try:
            await load_the_demo(nc)
            await caught_up(nc, system)
        finally:
            for runner in system.all_runners:  # quiet: verify compares against a still database
                await runner.stop()
        yield Demo(nc, system, broker.url, url, data)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def demo(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Demo]:
    async with bootstrap(tmp_path_factory.mktemp("demo"), tamperable=False) as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def tamperable(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Demo]:
    async with bootstrap(tmp_path_factory.mktemp("tamper"), tamperable=True) as running:
        code, output = await verify(running)
        assert code == 0, output
        yield running


async def verify(demo: Demo) -> tuple[int, str]:
    result = await asyncio.to_thread(
        cli.invoke, audit_app(), demo.verify_args, env=demo.environment
    )
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


# A fixed set of questions: present and past, lists, nested connections, audit fields.
QUERIES = [
    "{ tenders { totalCount edges { cursor node { id tenderId phase title lots { lotId status"
    " supplierIds standstillEndsOn awardedOn } participants { organisationCode } } } } }",
    "{ contracts { nodes { contractId kind status startDate endDate valueEur suppliers { name }"
    " participants { organisationCode } callOffs { callOffId supplier { name } } } } }",
    "{ organisations(first: 100) { totalCount pageInfo { endCursor hasNextPage } nodes { code name } } }",
    "{ callOffs { nodes { callOffId participantCode valueEur } } }",
    "{ events(first: 100) { totalCount nodes { id eventType occurredAt recordedAt actor } } }",
    "{ statistics { participationByProgramme { key participating rate } contractsByKind { key contracts totalValueEur } } }",
    '{ tender(tenderId: "vt-0800-2000", asOf: "2020-11-20") { phase lots { status supplierIds } } }',
    '{ tenders(asOf: "2016-03-01", knownAt: "2999-01-01T00:00:00Z") { nodes { tenderId phase } } }',
    '{ history(aggregate: "contract/gt-mc1-framework", asOf: "2020-01-01",'
    ' knownAt: "2999-01-01T00:00:00Z") { state timeline { eventId summary } fieldHistory { path versions } } }',
    '{ entitiesAsOf(aggregateType: "enrolment_window", asOf: "2015-06-01",'
    ' knownAt: "2999-01-01T00:00:00Z") { aggregateId state } }',
    '{ ocds(tenderId: "gt-mc1", knownAt: "2999-01-01T00:00:00Z") }',
]


async def answers(app: object, bearer: str) -> list[bytes]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    headers = {"Authorization": f"Bearer {bearer}"}
    found = []
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        for query in QUERIES:
            response = await client.post("/graphql", json={"query": query}, headers=headers)
            assert "errors" not in response.json(), (query, response.text)
            found.append(response.content)
    return found


async def test_a_full_rebuild_answers_byte_for_byte_the_same(demo: Demo) -> None:
    auditor = issue_token(demo.system.settings, Role.AUDITOR, "rebuild-check")
    assert demo.system.app is not None
    live = await answers(demo.system.app, auditor)

    fresh = make_engine(f"sqlite:///{demo.data / 'rebuilt.db'}")
    store = EventStore(demo.nc, demo.system.clock)
    # The gateway's read models and audit's row versions (here in the one database, as
    # without GT_AUDIT_DATABASE_URL).
    for model in READ_MODELS:
        if model.database in (READ_MODELS_DB, AUDIT_DB):
            await rebuild(store, fresh, model(), runners=projection_runner)
    rebuilt_app = build_app(
        ReadModels(fresh), demo.system.settings, audit=audit_sources(store, fresh)
    )
    again = await answers(rebuilt_app, auditor)
    fresh.dispose()
    assert [json.loads(a) for a in again] == [json.loads(a) for a in live]  # readable diff
    assert again == live  # and the very bytes


async def test_verify_passes_on_the_demo_and_covers_every_read_model(demo: Demo) -> None:
    code, output = await verify(demo)
    assert code == 0, output
    for model in READ_MODELS:
        assert model().key in output, output


@pytest.mark.parametrize(
    ("database", "kind", "table", "key", "column", "forged"),
    [
        (ENROLMENT_DB, RegistryFacts, "contracts", "gt-mc1-framework", "tender_id", "vt-0800-2000"),
        (NOTIFIER_DB, NotifierSchedule, "contracts", "gt-mc1-framework", "paying_agent", "GM0000"),
    ],
    ids=["enrolment", "notifier"],
)
async def test_verify_names_a_row_of_a_service_read_model_changed_behind_its_runner(
    demo: Demo, database: str, kind: type, table: str, key: str, column: str, forged: str
) -> None:
    # The enrolment service and the notifier keep their read models in their own databases;
    # verify finds them there and rebuilds them like the gateway's.
    projection = kind()
    projection.define(MetaData())
    rows = getattr(projection, table)
    engine = make_engine(demo.system.databases[database])
    where = rows.c.contract_id == key
    with engine.begin() as conn:
        honest = conn.execute(select(rows.c[column]).where(where)).scalar_one()
        conn.execute(update(rows).where(where).values({column: forged}))
    try:
        code, output = await verify(demo)
        assert code == 1, output
        assert "projection-drift" in output
        assert f"projection {projection.key} table {rows.name}" in output, output
        assert key in output
        assert forged in output
    finally:
        with engine.begin() as conn:
            conn.execute(update(rows).where(where).values({column: honest}))
        engine.dispose()
    assert (await verify(demo))[0] == 0


async def test_verify_names_a_projection_row_changed_behind_the_runner(demo: Demo) -> None:
    t = TendersProjection()
    t.define(MetaData())
    engine = make_engine(demo.database_url)
    c = t.tenders.c
    # The tender's current version (valid until further notice, known until now).
    where = (c.tender_id == "vt-0800-2000") & (c.valid_to == FOREVER) & (c.known_to == FOREVER)
    with engine.begin() as conn:
        # Every row version of the tender (the table is bitemporal) has the same title.
        [honest] = conn.execute(select(t.tenders.c.title).where(where).distinct()).scalars()
        conn.execute(update(t.tenders).where(where).values(title="Quietly renamed"))
    try:
        code, output = await verify(demo)
        assert code == 1
        assert "projection-drift" in output
        assert t.tenders.name in output
        assert "vt-0800-2000" in output
        assert "Quietly renamed" in output
    finally:
        with engine.begin() as conn:
            conn.execute(update(t.tenders).where(where).values(title=honest))
        engine.dispose()
    assert (await verify(demo))[0] == 0


async def stored(demo: Demo, stream: str) -> list[tuple[int, str, dict]]:  # type: ignore[type-arg]
    js = demo.nc.jetstream()
    last = (await js.stream_info(stream)).state.last_seq
    found = []
    for seq in range(1, last + 1):
        msg = await js.get_msg(stream, seq)
        found.append((seq, msg.subject, json.loads(msg.data)))
    return found


async def test_verify_names_an_edited_event(tamperable: Demo) -> None:
    demo = tamperable
    js = demo.nc.jetstream()
    events = await stored(demo, "REGISTRY")
    seq, subject, body = next(e for e in events if e[2]["event_type"] == "AwardMadeDefinitive")
    # Edit in place, as far as JetStream allows: remove it, put a doctored copy back.
    body["payload"]["supplier_ids"] = ["KVK-99999999"]
    await js.delete_msg("REGISTRY", seq)
    await js.publish(subject, json.dumps(body).encode())
    code, output = await verify(demo)
    assert code == 1
    assert body["event_id"] in output
    assert "altered" in output or "hash" in output, output


async def test_verify_names_a_deleted_event(tamperable: Demo) -> None:
    demo = tamperable
    js = demo.nc.jetstream()
    events = await stored(demo, "ENROLMENT")
    seq, _, body = next(e for e in events if e[2]["event_type"] == "ParticipantEnrolled")
    await js.delete_msg("ENROLMENT", seq)
    code, output = await verify(demo)
    assert code == 1
    assert f"ENROLMENT seq {seq}" in output
    assert "deleted" in output
    assert body["event_id"] in output  # the live event log still holds the vanished event
