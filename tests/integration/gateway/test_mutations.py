"""Mutations through the real services: typed results, and read-your-writes with the token."""

from __future__ import annotations

from typing import Any

import httpx

from bootstrap.system import System
from gateway.auth import Role, issue_token

REGISTER = """mutation($i: RegisterOrganisationInput!) { registerOrganisation(input: $i) {
  __typename
  ... on CommandSucceeded { consistencyToken duplicate node { ... on Organisation { code name } } }
  ... on DomainError { code message }
  ... on InvalidInput { code message problems { path message } } } }"""
RENAME = """mutation($i: RenameOrganisationInput!) { renameOrganisation(input: $i) {
  __typename ... on CommandSucceeded { consistencyToken } ... on DomainError { code message } } }"""
READ = (
    "query($code: String!, $t: String) { organisation(code: $code, consistencyToken: $t) { name } }"
)


async def gql(
    client: httpx.AsyncClient, system: System, query: str, variables: dict[str, Any], **headers: str
) -> dict[str, Any]:
    token = issue_token(system.settings, Role.COORDINATOR, "coordinator-1")
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}", **headers},
    )
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body["data"]


async def test_consistency_token_returns_the_new_state_every_time(
    system: System, client: httpx.AsyncClient
) -> None:
    created = await gql(
        client,
        system,
        REGISTER,
        {
            "i": {
                "commandId": "reg-ams",
                "code": "GM0363",
                "name": "Amsterdam",
                "kind": "MUNICIPALITY",
            }
        },
    )
    result = created["registerOrganisation"]
    assert result["__typename"] == "CommandSucceeded"
    assert result["node"] == {"code": "GM0363", "name": "Amsterdam"}
    for i in range(15):
        renamed = await gql(
            client,
            system,
            RENAME,
            {"i": {"commandId": f"rename-{i}", "code": "GM0363", "name": f"Amsterdam {i}"}},
        )
        token = renamed["renameOrganisation"]["consistencyToken"]
        if i % 2:  # the token as an argument ...
            read = await gql(client, system, READ, {"code": "GM0363", "t": token})
        else:  # ... or as a header
            read = await gql(
                client, system, READ, {"code": "GM0363"}, **{"X-Consistency-Token": token}
            )
        assert read["organisation"]["name"] == f"Amsterdam {i}"


async def test_domain_errors_and_invalid_input_are_typed(
    system: System, client: httpx.AsyncClient
) -> None:
    invalid = await gql(
        client,
        system,
        REGISTER,
        {"i": {"code": "amsterdam", "name": "Amsterdam", "kind": "MUNICIPALITY"}},
    )
    assert invalid["registerOrganisation"]["__typename"] in {"InvalidInput", "DomainError"}
    assert (
        "amsterdam" in invalid["registerOrganisation"]["message"]
        or invalid["registerOrganisation"]["code"]
    )

    rename_unknown = await gql(
        client, system, RENAME, {"i": {"code": "GM0599", "name": "Rotterdam"}}
    )
    error = rename_unknown["renameOrganisation"]
    assert error["__typename"] == "DomainError"
    assert error["code"]
    assert "GM0599" in error["message"]

    # A retried command (same id) is accepted once and reported as a duplicate.
    variables = {
        "i": {
            "commandId": "reg-rdam",
            "code": "GM0599",
            "name": "Rotterdam",
            "kind": "MUNICIPALITY",
        }
    }
    first = await gql(client, system, REGISTER, variables)
    again = await gql(client, system, REGISTER, variables)
    assert first["registerOrganisation"]["duplicate"] is False
    assert again["registerOrganisation"]["duplicate"] is True


async def test_bad_consistency_token_is_named(system: System, client: httpx.AsyncClient) -> None:
    token = issue_token(system.settings, Role.AUDITOR, "auditor-1")
    response = await client.post(
        "/graphql",
        json={"query": READ, "variables": {"code": "GM0363", "t": "ENROLMENT"}},
        headers={"Authorization": f"Bearer {token}"},
    )
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "INVALID_CONSISTENCY_TOKEN"
    assert "malformed consistency token part 'ENROLMENT'" in error["message"]
