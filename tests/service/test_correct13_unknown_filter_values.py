"""A filter naming a closed set's member by a string refuses a name outside the set. Before,
`events(filter: {eventTypes: ["Nope"]})` (or a misspelt `ContractSinged`) and
`lawFindings(filter: {code: [...]})` with a misspelt code matched nothing and answered an
empty page: "no such events" and "I did not understand" looked the same. Now each is
INVALID_ARGUMENT naming the unknown value and where the known ones are."""

from __future__ import annotations

from typing import Any

import pytest

from contracts_schema.catalogue import EVENT_TYPES
from tests.integration.gateway.harness import Gateway

EVENTS = """query ($types: [String!]) {
  events(filter: {eventTypes: $types}) { totalCount } }"""
FINDINGS = """query ($codes: [String!]) {
  lawFindings(filter: {code: $codes}) { totalCount } }"""


def refusal(body: dict[str, Any]) -> tuple[str, str]:
    [error] = body["errors"]
    return error["extensions"]["code"], error["message"]


@pytest.mark.parametrize("types", [["Nope"], ["ContractSigned", "ContractSinged"]])
async def test_an_unknown_event_type_is_refused_naming_it_and_the_known_ones(
    gateway: Gateway, types: list[str]
) -> None:
    for role in ("coordinator", "auditor"):
        body = await gateway.query(EVENTS, {"types": types}, token=gateway.token(role))
        code, message = refusal(body)
        assert code == "INVALID_ARGUMENT", body
        assert f"unknown event type {types[-1]!r}" in message, message
        assert all(known in message for known in EVENT_TYPES), message
        assert body.get("data") is None, body


async def test_known_event_types_still_filter(gateway: Gateway) -> None:
    body = await gateway.query(
        EVENTS, {"types": ["ContractSigned", "TenderPlanned"]}, token=gateway.token("auditor")
    )
    assert body == {"data": {"events": {"totalCount": 0}}}, body
    assert "errors" not in await gateway.query(
        EVENTS, {"types": []}, token=gateway.token("auditor")
    )


async def test_an_unknown_law_finding_code_is_refused(gateway: Gateway) -> None:
    body = await gateway.query(FINDINGS, {"codes": ["STANDSTILL_NOT_ENDED", "STANDSTIL_TOO_SHORT"]})
    code, message = refusal(body)
    assert code == "INVALID_ARGUMENT", body
    assert "unknown rule code 'STANDSTIL_TOO_SHORT'" in message, message
    assert "docs/refusal-codes.md" in message, message
    known = await gateway.query(FINDINGS, {"codes": ["STANDSTILL_TOO_SHORT"]})
    assert known == {"data": {"lawFindings": {"totalCount": 0}}}, known
