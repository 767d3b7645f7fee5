"""GraphQL against a running embedded system (`bootstrap.embedded`), as its coordinator: what
the e2e tests of `make run`'s processes send."""

from __future__ import annotations

from typing import Any

import httpx

from bootstrap.system import System
from gateway.auth import Role, issue_token

REGISTER = """mutation($i: RegisterOrganisationInput!) { registerOrganisation(input: $i) {
  __typename ... on CommandSucceeded { consistencyToken } ... on DomainError { code message } } }"""
HEALTH = "{ health { ok problems } }"


async def ask(
    http: httpx.AsyncClient, system: System, query: str, who: str, **variables: Any
) -> dict[str, Any]:
    """`query`'s data, asked with a coordinator's token for `who`; a response with errors
    fails the test."""
    token = issue_token(system.settings, Role.COORDINATOR, who)
    response = await http.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data
