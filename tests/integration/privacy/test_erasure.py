"""An erasure request, end to end on JetStream and SQLite (docs/privacy.md).

A coordinator known as IDENTITY acts through GraphQL; another coordinator then erases them.
Afterwards the identity is in no file of the system's data directory (read models, the
JetStream store, the identity store itself), in no GraphQL answer (event log, history, OCDS)
and in no audit CLI output; `audit verify` still passes; auditors see the PersonErased event.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
import pytest_asyncio
from nats.aio.client import Client as NATS
from typer.testing import CliRunner

from audit.wiring import database_variable
from bootstrap.audit_cli import audit_app
from bootstrap.read_models import ENROLMENT_DB, NOTIFIER_DB
from bootstrap.system import System
from contracts_schema.subjects import CONTEXTS
from eventstore.signing import PUBLIC_KEYS_ENV, trusted_keys
from eventstore.store import EventStore
from eventstore.testing.nats_server import NatsServer
from gateway.auth import Role, issue_token
from gateway.settings import GatewaySettings
from tests.support.demo_system import load_the_demo

pytestmark = pytest.mark.asyncio(loop_scope="module")
cli = CliRunner()

IDENTITY = "jan.jansen@gemeente-voorbeeld.example"
OFFICER = "privacy-officer"
ORG = "KVK-12345678"

REGISTER = """mutation($i: RegisterOrganisationInput!) { registerOrganisation(input: $i) {
  __typename ... on CommandSucceeded { consistencyToken } ... on DomainError { code message } } }"""
RENAME = """mutation($i: RenameOrganisationInput!) { renameOrganisation(input: $i) {
  __typename ... on CommandSucceeded { consistencyToken } ... on DomainError { code message } } }"""
ERASE = """mutation($s: String!) { erasePerson(subject: $s) {
  __typename ... on CommandSucceeded { consistencyToken events { eventType aggregateId } }
  ... on DomainError { code message } ... on PermissionDenied { code message } } }"""
EVENTS = (
    """query($t: String) { events(first: 100, filter: {aggregateId: "@ORG@",
  aggregateType: ORGANISATION}, consistencyToken: $t) { nodes { eventType actor } } }"""
).replace("@ORG@", ORG)
ERASURES = """{ events(first: 10, filter: {eventTypes: ["PersonErased"]}) {
  nodes { eventType aggregateType aggregateId actor payload } } }"""
READS = [
    EVENTS,
    f'{{ history(aggregate: "organisation/{ORG}") {{ timeline {{ eventType actor }} state }} }}',
    f'{{ organisation(code: "{ORG}") {{ code name }} }}',
    '{ ocds(tenderId: "gt-mc1") }',
    "{ events(first: 100) { nodes { actor payload } } }",
]


@dataclass
class Running:
    nc: NATS
    system: System
    nats_url: str
    data: Path

    def token(self, role: Role, subject: str) -> str:
        return issue_token(self.system.settings, role, subject)

    async def gql(self, subject: str, query: str, role: Role = Role.COORDINATOR, **v: Any) -> Any:
        assert self.system.app is not None
        transport = httpx.ASGITransport(app=self.system.app)
        headers = {"Authorization": f"Bearer {self.token(role, subject)}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            response = await client.post(
                "/graphql", json={"query": query, "variables": v}, headers=headers
            )
        body = response.json()
        assert "errors" not in body, body
        return body["data"]

    def audit(self, *args: str) -> tuple[int, str]:
        databases = self.system.databases
        keys = ",".join(f"{c}={k}" for c, ks in trusted_keys(self.data).items() for k in ks)
        env = {database_variable(d): databases[d] for d in (ENROLMENT_DB, NOTIFIER_DB)}
        env[PUBLIC_KEYS_ENV] = keys
        result = cli.invoke(audit_app(), list(args), env=env)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.output


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def running(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    data = tmp_path_factory.mktemp("privacy")
    broker = NatsServer(data / "jetstream").start()
    try:  # whatever fails on the way, what was started is stopped
        nc = await nats.connect(broker.url)
        try:
            settings = GatewaySettings(
                database_url=f"sqlite:///{data / 'read-models.db'}",
                identity_database_url=f"sqlite:///{data / 'identities.db'}",
                jwt_secret="s" * 40,
            )
            system = System(nc, data, settings)
            try:
                await system.start()
                await load_the_demo(nc)
                yield Running(nc, system, broker.url, data)
            finally:
                await system.stop()
        finally:
            await nc.close()
    finally:
        broker.stop()


def files_naming(root: Path, text: str) -> list[str]:
    needle = text.encode()
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and needle in p.read_bytes()
    )


async def settle(running: Running) -> None:
    store = EventStore(running.nc, running.system.clock)
    ends = {c.stream: await store.last_seq(c) for c in CONTEXTS.values()}
    runners = running.system.all_runners
    assert all(await asyncio.gather(*(r.wait_until(ends, 120) for r in runners)))


async def test_an_erased_person_is_nowhere_and_the_log_still_verifies(running: Running) -> None:
    # The person acts: the log and the read models hold their pseudonym, views their name.
    i = {"commandId": "reg-priv", "code": ORG, "name": "Voorbeeld BV", "kind": "SUPPLIER"}
    registered = await running.gql(IDENTITY, REGISTER, i=i)
    assert registered["registerOrganisation"]["__typename"] == "CommandSucceeded"
    renamed = await running.gql(
        IDENTITY, RENAME, i={"commandId": "ren-priv", "code": ORG, "name": "Voorbeeld B.V."}
    )
    token = renamed["renameOrganisation"]["consistencyToken"]
    before = await running.gql(OFFICER, EVENTS, Role.AUDITOR, t=token)
    actors = {e["actor"] for e in before["events"]["nodes"]}
    assert actors == {f"coordinator:{IDENTITY}"}
    await settle(running)
    assert files_naming(running.data, IDENTITY) == ["identities.db"]  # and only there

    # A participant or an auditor may not erase; a coordinator may, once.
    denied = await running.gql(OFFICER, ERASE, Role.AUDITOR, s=IDENTITY)
    assert denied["erasePerson"]["__typename"] == "PermissionDenied"
    erased = await running.gql(OFFICER, ERASE, s=IDENTITY)
    result = erased["erasePerson"]
    assert result["__typename"] == "CommandSucceeded", result
    [event] = result["events"]
    assert event["eventType"] == "PersonErased"
    pseudonym = event["aggregateId"]
    again = await running.gql(OFFICER, ERASE, s=IDENTITY)
    assert again["erasePerson"]["code"] == "PERSON_UNKNOWN"
    unknown = await running.gql(OFFICER, ERASE, s="demo")  # the demo's clear-text actor
    assert unknown["erasePerson"]["code"] == "PERSON_UNKNOWN"

    # Views say "erased person"; auditors see the erasure as an event.
    after = await running.gql(OFFICER, EVENTS, Role.AUDITOR, t=result["consistencyToken"])
    assert {e["actor"] for e in after["events"]["nodes"]} == {
        f"coordinator:erased person ({pseudonym})"
    }
    erasures = (await running.gql(OFFICER, ERASURES, Role.AUDITOR))["events"]["nodes"]
    assert [(e["aggregateType"], e["payload"]) for e in erasures] == [
        ("PERSON", {"pseudonym": pseudonym, "basis": "request"})
    ]
    assert erasures[0]["actor"].startswith("coordinator:")  # the officer, by their name
    assert OFFICER in erasures[0]["actor"]

    # Nowhere: no GraphQL answer, no file of the system (read models, JetStream, identities).
    for query in READS:
        for role in (Role.AUDITOR, Role.COORDINATOR):
            answer = await running.gql(OFFICER, query, role)
            assert IDENTITY not in str(answer), query
    await settle(running)
    for runner in running.system.all_runners:  # quiet: verify compares a still database
        await runner.stop()
    assert files_naming(running.data, IDENTITY) == []

    # The audit CLI: the replay shows pseudonyms only, and the log verifies.
    nats_url = ["--nats-url", running.nats_url]
    code, replayed = await asyncio.to_thread(
        running.audit, "replay", f"organisation/{ORG}", *nats_url
    )
    assert code == 0, replayed
    assert IDENTITY not in replayed
    assert pseudonym in replayed
    args = ["verify", *nats_url, "--database-url", running.system.settings.database_url]
    for runner in running.system.all_runners:
        args += ["--projection", runner.projection.name]
    code, verified = await asyncio.to_thread(running.audit, *args)
    assert code == 0, verified
    assert IDENTITY not in verified
