"""correct19: a login subject (`sub`) holding a control or bidirectional-formatting character.

The subject is stored in the identity store and shown in place of the pseudonym in every view
(`actor_names`): a NUL made each mutation of that token fail on PostgreSQL ("Unexpected
error": PostgreSQL text holds no NUL) and was stored as given on SQLite; an ESC or U+202E
would be written to an auditor's terminal and the console as it came. Now the token is
refused with the others (401, naming the character), and `erasePerson` refuses such a
subject as an argument no login can carry (it answered PERSON_UNKNOWN on SQLite and
"Unexpected error" on PostgreSQL). Same test on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bootstrap.parts import notifier_service, registry_service
from eventstore.clock import FixedClock
from eventstore.memory import InMemoryEventStore
from gateway.auth import Role, issue_token
from gateway.privacy.identities import IdentityStore
from tests.integration.gateway.harness import Gateway, start_memory_gateway
from tests.service.bus import InProcessBus

REGISTER = """mutation($i: RegisterOrganisationInput!) { registerOrganisation(input: $i) {
  __typename ... on DomainError { code message } } }"""
ERASE = """mutation($s: String!) { erasePerson(subject: $s) {
  __typename ... on DomainError { code message } } }"""

# (subject, the code point named in the refusal)
BAD = [
    ("dev\x00user", "U+0000"),
    ("dev\x1b[2Juser", "U+001B"),
    ("dev\u202euser", "U+202E"),
    ("dev\u200buser", "U+200B"),  # shows as "devuser": the message must say "invisible"
]


@pytest.fixture
async def gateway(
    store: InMemoryEventStore, bus: InProcessBus, tmp_path: Path, database_url: str
) -> AsyncIterator[Gateway]:
    views = f"sqlite:///{tmp_path / 'views.db'}"
    g = await start_memory_gateway(store, views, commands=bus, identity_database_url=database_url)
    try:
        yield g
    finally:
        await g.stop()


async def post(
    gateway: Gateway, subject: str, query: str, variables: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    assert gateway.client is not None
    token = issue_token(gateway.settings, Role.COORDINATOR, subject)
    response = await gateway.client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    body: dict[str, Any] = response.json()
    return response.status_code, body


@pytest.mark.parametrize(("subject", "named"), BAD, ids=["nul", "escape", "bidi", "zero-width"])
async def test_a_subject_with_a_control_or_bidi_character_is_refused_with_the_token(
    gateway: Gateway, subject: str, named: str
) -> None:
    given = {"code": "KVK-12345678", "name": "Leverancier", "kind": "SUPPLIER"}
    status, body = await post(gateway, subject, REGISTER, {"i": given})
    assert status == 401, body
    message = body["errors"][0]["message"]
    assert "`sub`" in message, body
    assert named in message, body
    assert "invisible" in message, body
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", body
    # A plain subject still signs in and its mutation is recorded.
    status, body = await post(gateway, "dev-user", REGISTER, {"i": given})
    assert status == 200, body
    assert body["data"]["registerOrganisation"]["__typename"] == "CommandSucceeded", body


@pytest.mark.parametrize(("subject", "named"), BAD, ids=["nul", "escape", "bidi", "zero-width"])
async def test_erase_person_refuses_a_subject_no_login_can_carry(
    gateway: Gateway, subject: str, named: str
) -> None:
    status, body = await post(gateway, "dev-coordinator", ERASE, {"s": subject})
    assert status == 200, body
    errors = body.get("errors") or []
    assert [e.get("extensions", {}).get("code") for e in errors] == ["INVALID_ARGUMENT"], body
    assert "subject" in errors[0]["message"], body
    assert named in errors[0]["message"], body


async def test_erase_person_erases_a_subject_stored_before_the_rule(
    store: InMemoryEventStore, clock: FixedClock, tmp_path: Path, database_url: str
) -> None:
    """A login with a zero width space signed in before such logins were refused: it can
    still be erased (fails before: INVALID_ARGUMENT, the person never erasable; review18b)."""
    old_login = "dev\u200buser"
    IdentityStore.open(database_url).pseudonym_for(old_login)
    services = [registry_service(store, clock), notifier_service(store, clock)]
    for service in services:
        await service.start()
    views = f"sqlite:///{tmp_path / 'views.db'}"
    g = await start_memory_gateway(
        store, views, commands=InProcessBus(services), identity_database_url=database_url
    )
    try:
        status, body = await post(g, "dev-coordinator", ERASE, {"s": old_login})
    finally:
        await g.stop()
    assert status == 200, body
    assert "errors" not in body, body
    assert body["data"]["erasePerson"]["__typename"] == "CommandSucceeded", body
