"""A token whose `sub` is longer than 255 characters (the OpenID Connect limit) is refused
with the token, 401 naming the limit, on every request; a `sub` of 255 characters signs in and
its mutations are recorded with the identity store on SQLite and on PostgreSQL. Before: a
`sub` over the identity store's 300-character column failed each mutation on PostgreSQL
("Unexpected error") and was stored whole on SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from eventstore.memory import InMemoryEventStore
from gateway.auth import Role, issue_token
from tests.integration.gateway.harness import Gateway, start_memory_gateway
from tests.service.bus import InProcessBus

REGISTER = """mutation($i: RegisterOrganisationInput!) { registerOrganisation(input: $i) {
  __typename ... on DomainError { code message } } }"""


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


async def register(gateway: Gateway, subject: str, code: str) -> tuple[int, dict[str, Any]]:
    assert gateway.client is not None
    token = issue_token(gateway.settings, Role.COORDINATOR, subject)
    given = {"code": code, "name": code, "kind": "SUPPLIER"}
    response = await gateway.client.post(
        "/graphql",
        json={"query": REGISTER, "variables": {"i": given}},
        headers={"Authorization": f"Bearer {token}"},
    )
    body: dict[str, Any] = response.json()
    return response.status_code, body


async def test_a_subject_longer_than_255_characters_is_refused_with_the_token(
    gateway: Gateway,
) -> None:
    status, body = await register(gateway, "s" * 255, "KVK-12345678")
    assert status == 200, body
    assert body["data"]["registerOrganisation"]["__typename"] == "CommandSucceeded", body
    for length in (256, 301, 4000):
        status, body = await register(gateway, "s" * length, "KVK-87654321")
        assert status == 401, body
        assert "`sub` must be a string of 1 to 255 characters" in str(body), body
        assert f"this one is {length} characters" in str(body), body
