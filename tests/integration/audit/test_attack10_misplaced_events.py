"""attack10: a signed event copied onto another aggregate's subject is refused as `misplaced`.

An event's signature covers its hash, which covers its context, aggregate and type; the
subject it is stored on is covered by nothing, yet the command side loads an aggregate's
history by subject. With the enrolment stream's NATS login (no key) Mallory copied
GM0001's signed registration onto `...organisation.GM0002.OrganisationRegistered`: the
registration of GM0002 was refused as already registered "as 'One'", and a rename of GM0002
was decided on GM0001's history and signed by the service, renaming GM0001. Now every reader
refuses an event stored off its own subject: the command side answers `UNTRUSTED_HISTORY`,
projections park it `misplaced` (before: parked as a `duplicate` of GM0001's version 1)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from nats.aio.client import Client as NATS

from bootstrap.system import System
from contracts_schema.subjects import ENROLMENT
from tests.integration.audit.test_readers_refuse_forgeries import (
    REGISTER,
    RENAME,
    event_of,
    gql,
)

# The token on every root field: each waits for it on its own (one field's wait does not hold
# the others back; without it `three` was read before its registration was applied).
NAMES = """query($t: String) { one: organisation(code: "GM0001", consistencyToken: $t) { name }
  two: organisation(code: "GM0002", consistencyToken: $t) { name }
  three: organisation(code: "GM0003", consistencyToken: $t) { name } }"""
HEALTH = "{ health { ok parked(first: 50) { projection sequence error } } }"


def registration(code: str, name: str) -> dict[str, Any]:
    return {"i": {"commandId": f"reg-{code}", "code": code, "name": name, "kind": "MUNICIPALITY"}}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_signed_event_copied_onto_another_aggregate_is_refused_misplaced(
    system: System, client: httpx.AsyncClient, nats_client: NATS
) -> None:
    one = await gql(client, system, REGISTER, registration("GM0001", "One"))
    assert one["registerOrganisation"]["__typename"] == "CommandSucceeded", one
    _registered, raw = await event_of(nats_client, system, "GM0001", 0)
    # Mallory, with the enrolment stream's login: the same signed bytes on GM0002's subject.
    subject = ENROLMENT.event_subject("organisation", "GM0002", "OrganisationRegistered")
    await nats_client.jetstream().publish(subject, raw, stream=ENROLMENT.stream)

    two = (await gql(client, system, REGISTER, registration("GM0002", "Two")))[
        "registerOrganisation"
    ]
    assert two["code"] == "UNTRUSTED_HISTORY", two  # before: ORGANISATION_ALREADY_REGISTERED
    assert "misplaced: stored on enrolment.events.organisation.GM0002" in two["message"], two
    rename = {"i": {"commandId": "rename-2", "code": "GM0002", "name": "Two renamed"}}
    renamed = (await gql(client, system, RENAME, rename))["renameOrganisation"]
    assert renamed["code"] == "UNTRUSTED_HISTORY", renamed  # before: accepted, GM0001 renamed

    # A later event, and the read models waited for up to it: the copy (seq 2) is behind them.
    three = await gql(client, system, REGISTER, registration("GM0003", "Three"))
    token = three["registerOrganisation"]["consistencyToken"]
    names = await gql(client, system, NAMES, {"t": token})
    assert names == {"one": {"name": "One"}, "two": None, "three": {"name": "Three"}}, names
    health = (await gql(client, system, HEALTH))["health"]
    assert not health["ok"]
    reasons = {p["error"].split(":")[0] for p in health["parked"] if p["sequence"] == 2}
    assert reasons == {"misplaced"}, health["parked"]
