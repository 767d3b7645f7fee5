"""trust8: what holding a stream's NATS login (not the service's key) can put before readers.

Before, only `audit verify` checked signatures: an unsigned or re-signed event published on a
registry subject showed in the gateway's event log and was folded by the command side, an
exact copy was parked only by a SQL UNIQUE error, and bytes that are no envelope stopped every
registry projection for good (re-arming forever, nothing parked, health ok). Now each reader
parks such an event with its reason and stream sequence, applies the rest, and health says
so; the command side refuses to decide on a history holding one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.aio.client import Client as NATS

from bootstrap.system import System
from contracts_schema.subjects import CONTEXTS, ENROLMENT, REGISTRY
from eventstore.hashing import envelope_hash
from eventstore.signing import KEYS_DIR, EventSigner
from eventstore.store import EventStore, StoredEvent
from gateway.auth import Role, issue_token

REGISTER = """mutation($i: RegisterOrganisationInput!) { registerOrganisation(input: $i) {
  __typename ... on CommandSucceeded { consistencyToken } ... on DomainError { code message } } }"""
RENAME = """mutation($i: RenameOrganisationInput!) { renameOrganisation(input: $i) {
  __typename ... on CommandSucceeded { consistencyToken } ... on DomainError { code message } } }"""
PLAN = """mutation($i: PlanProgrammeInput!) { planProgramme(input: $i) {
  __typename ... on CommandSucceeded { consistencyToken } } }"""
AFTER = """query($t: String) { events(first: 100, consistencyToken: $t) {
  nodes { stream sequence eventType aggregateId } } }"""
READ = "query($c: String!, $t: String) { organisation(code: $c, consistencyToken: $t) { name } }"
EVENTS = "{ events(first: 100) { nodes { eventId actor stream sequence } } }"
HEALTH = "{ health { ok parked(first: 500) { projection stream sequence eventId error } } }"


async def gql(
    client: httpx.AsyncClient, system: System, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    token = issue_token(system.settings, Role.COORDINATOR, "coordinator-1")
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"},
    )
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body["data"]


async def organisation(client: httpx.AsyncClient, system: System, code: str) -> None:
    registered = await gql(
        client,
        system,
        REGISTER,
        {"i": {"commandId": f"reg-{code}", "code": code, "name": code, "kind": "MUNICIPALITY"}},
    )
    assert registered["registerOrganisation"]["__typename"] == "CommandSucceeded", registered
    renamed = await rename(client, system, code, f"{code} (renamed)")
    assert renamed["__typename"] == "CommandSucceeded", renamed


async def rename(client: httpx.AsyncClient, system: System, code: str, name: str) -> Any:
    command = {"commandId": f"rename-{code}-{uuid.uuid4().hex[:6]}", "code": code, "name": name}
    return (await gql(client, system, RENAME, {"i": command}))["renameOrganisation"]


async def event_of(nc: NATS, system: System, code: str, index: int) -> tuple[StoredEvent, bytes]:
    """`code`'s organisation event at `index` of its history (-1: its last) and its bytes."""
    store = EventStore(nc, system.clock)
    events = [e async for e in store.read_stream(ENROLMENT) if e.envelope.aggregate_id == code]
    raw = await nc.jetstream().get_msg(ENROLMENT.stream, events[index].seq)
    assert raw.data is not None
    return events[index], raw.data


async def last_event(nc: NATS, system: System, code: str) -> tuple[StoredEvent, bytes]:
    return await event_of(nc, system, code, -1)


def next_of(last: StoredEvent, **changes: Any) -> dict[str, Any]:
    """The fields of an event continuing `last`'s chain, as Mallory would write one."""
    fields = last.envelope.model_dump(mode="json")
    fields.update(
        event_id=str(uuid.uuid4()),
        aggregate_version=last.envelope.aggregate_version + 1,
        prev_hash=last.envelope.hash,
        actor="coordinator:mallory",
        command_id=str(uuid.uuid4()),
        payload={**fields["payload"], "name": "Mallory"},
    )
    fields.update(changes)
    return fields


def unsigned(last: StoredEvent, _raw: bytes, _data: Path) -> bytes:
    fields = next_of(last, signer=None, signature=None)
    fields["hash"] = envelope_hash(fields)
    return _json(fields)


def copied_signature(last: StoredEvent, _raw: bytes, _data: Path) -> bytes:
    """Chained and hashed right, carrying the service's signature of the event before."""
    fields = next_of(last)
    fields["hash"] = envelope_hash(fields)
    return _json(fields)


def altered(last: StoredEvent, _raw: bytes, _data: Path) -> bytes:
    """The service's own last event, its content changed and its hash and signature kept."""
    fields = last.envelope.model_dump(mode="json")
    fields["payload"] = {**fields["payload"], "name": "Mallory"}
    fields["event_id"] = str(uuid.uuid4())
    return _json(fields)


def other_context(last: StoredEvent, _raw: bytes, data: Path) -> bytes:
    """Signed, with the key of the registry service (a key trusted, but not for ENROLMENT)."""
    signer = EventSigner((data / KEYS_DIR / f"{REGISTRY.name}.seed").read_text().strip())
    fields = next_of(last, signer=signer.public_key)
    fields["hash"] = envelope_hash(fields)
    fields["signature"] = signer.sign(fields["hash"])
    return _json(fields)


def duplicate(_last: StoredEvent, raw: bytes, _data: Path) -> bytes:
    return raw  # the very bytes the service stored, published again


def _json(fields: dict[str, Any]) -> bytes:
    import json

    return json.dumps(fields).encode()


Forgery = Callable[[StoredEvent, bytes, Path], bytes]
# id -> (the forgery, the reason readers give)
FORGERIES: dict[str, tuple[Forgery, str]] = {
    "unsigned": (unsigned, "unsigned"),
    "copied-signature": (copied_signature, "altered"),
    "altered-content": (altered, "altered"),
    "other-contexts-key": (other_context, "untrusted signer"),
    "exact-duplicate": (duplicate, "duplicate"),
}


async def settled(nc: NATS, system: System) -> None:
    store = EventStore(nc, system.clock)
    ends = {c.stream: await store.last_seq(c) for c in CONTEXTS.values()}
    for runner in system.all_runners:
        assert await runner.wait_until(ends, 120), (runner.projection.key, runner.positions)


async def parked_and_the_rest_applied(
    system: System, client: httpx.AsyncClient, nc: NATS, stream: str, seq: int, reason: str
) -> None:
    """After the forgery at `seq` of `stream`, a command's event is read back (the rest is
    applied), the forgery is no fact for GraphQL, and every read model that read it parked it
    with `reason`."""
    token = (await rename(client, system, "GM0009", "Nine"))["consistencyToken"]
    read = await gql(client, system, READ, {"c": "GM0009", "t": token})
    assert read["organisation"] == {"name": "Nine"}
    await settled(nc, system)

    events = (await gql(client, system, EVENTS))["events"]["nodes"]
    assert not [e for e in events if e["actor"] == "coordinator:mallory"]
    assert not [e for e in events if (e["stream"], e["sequence"]) == (stream, seq)]
    name = (await gql(client, system, READ, {"c": "GM0001"}))["organisation"]["name"]
    assert name == "GM0001 (renamed)"

    health = (await gql(client, system, HEALTH))["health"]
    assert health["ok"] is False
    rows = health["parked"]
    assert {(r["stream"], r["sequence"]) for r in rows} == {(stream, seq)}, rows
    assert "event_log_v3" in {r["projection"] for r in rows}, rows
    for row in rows:
        assert row["error"].startswith(f"{reason}: "), row


@pytest.mark.parametrize("kind", list(FORGERIES))
async def test_a_forged_event_is_parked_with_its_reason_and_refused_by_the_command_side(
    system: System, client: httpx.AsyncClient, nats_client: NATS, tmp_path: Path, kind: str
) -> None:
    for code in ("GM0001", "GM0009"):
        await organisation(client, system, code)
    last, raw = await last_event(nats_client, system, "GM0001")
    forge, reason = FORGERIES[kind]
    ack = await nats_client.jetstream().publish(
        last.subject, forge(last, raw, tmp_path), stream=ENROLMENT.stream
    )

    await parked_and_the_rest_applied(
        system, client, nats_client, ENROLMENT.stream, ack.seq, reason
    )

    # The command side decides nothing on a history holding it, and names it.
    refused = await rename(client, system, "GM0001", "Again")
    assert refused["__typename"] == "DomainError", refused
    assert refused["code"] == "UNTRUSTED_HISTORY", refused
    assert f"{ENROLMENT.stream} seq {ack.seq}" in refused["message"], refused
    assert reason in refused["message"], refused


async def test_undecodable_bytes_are_parked_and_the_stream_goes_on(
    system: System, client: httpx.AsyncClient, nats_client: NATS
) -> None:
    """(B) Before, every registry projection re-armed forever on these bytes, applied
    nothing after them, parked nothing, and health stayed ok."""
    for code in ("GM0001", "GM0009"):
        await organisation(client, system, code)
    ack = await nats_client.jetstream().publish(
        "registry.events.programme.GT.ProgrammePlanned", b"{not json", stream=REGISTRY.stream
    )
    await parked_and_the_rest_applied(
        system, client, nats_client, REGISTRY.stream, ack.seq, "undecodable"
    )
    # And what comes after it on the same stream is applied too.
    planned = await gql(
        client, system, PLAN, {"i": {"programmeId": "GT2", "name": "Two", "coordinator": "GM0001"}}
    )
    token = planned["planProgramme"]["consistencyToken"]
    events = (await gql(client, system, AFTER, {"t": token}))["events"]["nodes"]
    assert [e for e in events if e["stream"] == REGISTRY.stream] == [
        {"stream": "REGISTRY", "sequence": 2, "eventType": "ProgrammePlanned", "aggregateId": "GT2"}
    ], events


async def test_a_backdated_command_is_refused_on_a_history_forged_after_the_cached_head(
    system: System, client: httpx.AsyncClient, nats_client: NATS, tmp_path: Path
) -> None:
    """A command dated before its aggregate's latest valid day loads the history afresh to
    decide on its day: that load is checked as every load is. Before, an event stored after
    the cached head was folded unchecked on that path (the refusal was a rule's, about a
    forged fact taken as recorded)."""
    code = "GM0002"
    for mutation, name, day in ((REGISTER, code, "2020-01-01"), (RENAME, "Twee", "2022-01-01")):
        command = {"commandId": f"{name}-{day}", "code": code, "name": name}
        command["occurredAt"] = f"{day}T12:00:00Z"
        if mutation is REGISTER:
            command["kind"] = "MUNICIPALITY"
        answer = await gql(client, system, mutation, {"i": command})
        assert next(iter(answer.values()))["__typename"] == "CommandSucceeded", answer
    last, raw = await last_event(nats_client, system, code)  # the cache's head
    ack = await nats_client.jetstream().publish(
        last.subject, unsigned(last, raw, tmp_path), stream=ENROLMENT.stream
    )
    command = {"commandId": "backdated", "code": code, "name": "Deux"}
    command["occurredAt"] = "2021-01-01T12:00:00Z"
    refused = (await gql(client, system, RENAME, {"i": command}))["renameOrganisation"]
    assert refused["__typename"] == "DomainError", refused
    assert refused["code"] == "UNTRUSTED_HISTORY", refused
    assert f"{ENROLMENT.stream} seq {ack.seq}" in refused["message"], refused


PLAN_OR_REFUSE = """mutation($i: PlanProgrammeInput!) { planProgramme(input: $i) {
  __typename ... on DomainError { code message } } }"""


async def test_a_decision_reading_another_aggregate_refuses_a_forgery_there(
    system: System, client: httpx.AsyncClient, nats_client: NATS
) -> None:
    """review12: the facts a decision reads from other aggregates (`folded.load_folded`: a
    programme's coordinator, a call-off's framework, ...) were folded unchecked. A
    registration Mallory published with the enrolment stream's login (unsigned, its hash
    consistent) made the registry accept a programme coordinated by an organisation no
    service registered."""
    await organisation(client, system, "GM0001")
    first, _raw = await event_of(nats_client, system, "GM0001", 0)
    fields = first.envelope.model_dump(mode="json")
    fields.update(
        event_id=str(uuid.uuid4()),
        aggregate_id="GM0077",
        actor="coordinator:mallory",
        command_id=str(uuid.uuid4()),
        payload={**fields["payload"], "code": "GM0077", "name": "Mallorydorp"},
        signer=None,
        signature=None,
    )
    fields["hash"] = envelope_hash(fields)
    subject = first.subject.replace(".GM0001.", ".GM0077.")
    await nats_client.jetstream().publish(subject, _json(fields), stream=ENROLMENT.stream)

    command = {"programmeId": "GT9", "name": "Nine", "coordinator": "GM0077"}
    refused = (await gql(client, system, PLAN_OR_REFUSE, {"i": command}))["planProgramme"]
    assert refused["__typename"] == "DomainError", refused
    assert refused["code"] == "UNTRUSTED_HISTORY", refused
    assert "GM0077" in refused["message"], refused


@pytest.mark.parametrize("garbage", [b"garbage", b'{"event_type": "OrganisationRenamed"}'])
async def test_a_message_that_is_no_event_refuses_the_command_naming_it(
    system: System, client: httpx.AsyncClient, nats_client: NATS, garbage: bytes
) -> None:
    """correct17: bytes on an aggregate's subject that are no envelope made its next command
    an `INTERNAL_ERROR: ValidationError` with a traceback in the log, where an altered or
    unsigned event is refused `UNTRUSTED_HISTORY` naming it: now refused the same way."""
    code = f"GM{uuid.uuid4().int % 9000 + 1000}"
    await organisation(client, system, code)
    last, _raw = await last_event(nats_client, system, code)
    await nats_client.jetstream().publish(last.subject, garbage, stream=ENROLMENT.stream)

    refused = await rename(client, system, code, "Again")
    assert refused["__typename"] == "DomainError", refused
    assert refused["code"] == "UNTRUSTED_HISTORY", refused
    assert "no event envelope" in refused["message"], refused
