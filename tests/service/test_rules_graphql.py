"""The rules as a GraphQL client meets them: camelCase fields with their bounds, refusal
codes as the described `RefusalCode` enum."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from graphql import GraphQLEnumType, build_schema

from contracts_schema.refusals import REFUSALS
from eventstore.memory import InMemoryEventStore
from gateway.sdl import export_sdl
from tests.integration.gateway.harness import Gateway, start_memory_gateway
from tests.service.bus import InProcessBus

RESULT = """... on CommandSucceeded { commandId }
  ... on DomainError { code refusal message }
  ... on InvalidInput { code message problems { path message } }
  ... on PermissionDenied { code message }"""
PLAN = f"""mutation ($input: PlanTenderInput!) {{ planTender(input: $input) {{ {RESULT} }} }}"""
SIGN = f"""mutation ($input: SignContractInput!) {{ signContract(input: $input) {{ {RESULT} }} }}"""


@pytest.fixture
async def gateway(
    store: InMemoryEventStore, bus: InProcessBus, tmp_path: Path
) -> AsyncIterator[Gateway]:
    g = await start_memory_gateway(store, f"sqlite:///{tmp_path / 'rm.db'}", commands=bus)
    try:
        yield g
    finally:
        await g.stop()


async def run(g: Gateway, text: str, **variables: Any) -> Any:
    body = await g.query(text, variables, token=g.token("coordinator"))
    assert "errors" not in body, body
    return body["data"]


def plan_input(**changes: Any) -> dict[str, Any]:
    return {
        "tenderId": "gql-t",
        "title": "GT Connect",
        "contractingAuthority": "KVK-71830960",
        "procedure": "OPEN",
        "framework": True,
        "lots": [{"lotId": "voice", "title": "Voice"}],
        **changes,
    }


async def test_given_bad_input_when_mutating_then_each_problem_names_the_camel_case_field(
    gateway: Gateway,
) -> None:
    signed = await run(
        gateway,
        SIGN,
        input={
            "contractId": "c-gql",
            "kind": "CONTRACT",
            "contractingAuthority": "KVK-71830960",
            "suppliers": [{"supplierId": "KVK-27124701", "name": "KPN \u202eV.B"}],
            "startDate": "2019-01-01",
            "endDate": "2021-01-01",
            "maxExtentDate": "2101-01-01",
            "valueEur": 1e308,
        },
    )
    invalid = signed["signContract"]
    assert invalid["code"] == "INVALID_INPUT"
    problems = {p["path"]: p["message"] for p in invalid["problems"]}
    assert "less than or equal to" in problems["valueEur"]
    assert "U+202E" in problems["suppliers.0.name"]
    assert "2100-12-31" in problems["maxExtentDate"]
    assert "valueEur" in invalid["message"]


async def test_given_an_unknown_authority_when_planning_then_the_refusal_is_an_enum_value(
    gateway: Gateway,
) -> None:
    planned = await run(gateway, PLAN, input=plan_input(contractingAuthority="KVK-00000000"))
    refused = planned["planTender"]
    assert (refused["code"], refused["refusal"]) == ("ORGANISATION_UNKNOWN",) * 2
    accepted = await run(gateway, PLAN, input=plan_input())
    assert accepted["planTender"]["commandId"]


def test_the_refusal_code_enum_lists_every_code_with_its_rule_and_source() -> None:
    # Read from the published SDL: introspection is off by default (production).
    enum = build_schema(export_sdl()).get_type("RefusalCode")
    assert isinstance(enum, GraphQLEnumType)
    values = {name: value.description for name, value in enum.values.items()}
    assert set(values) == set(REFUSALS)
    assert "Source: Dir. art. 33(2)" in values["NOT_A_PARTICIPANT"]
