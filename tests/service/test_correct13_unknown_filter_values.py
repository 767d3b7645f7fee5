"""A filter naming a closed set's member by a string refuses a name outside the set. Before,
`events(filter: {eventTypes: ["Nope"]})` (or a misspelt `ContractSinged`) and
`lawFindings(filter: {code: [...]})` with a misspelt code, or `organisations(province:
"Noord Holland")`, matched nothing and answered an empty page: "no such events" and "I did not
understand" looked the same; so did a recorded or dated range that ends before it starts. Now
each is INVALID_ARGUMENT naming the value and the known ones (or the range)."""

from __future__ import annotations

from typing import Any

import pytest

from contracts_schema.catalogue import EVENT_TYPES
from contracts_schema.enrolment.commands import LoadMunicipalities
from eventstore.memory import InMemoryEventStore
from tests.integration.gateway.harness import Gateway
from tests.service.bus import InProcessBus
from tests.service.test_read_models import settled

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


RANGES = [
    ("""{ events(filter: {recordedFrom: "2030-01-01T00:00:00Z",
          recordedBefore: "2020-01-01T00:00:00Z"}) { totalCount } }""",
     "`recordedBefore` (2020-01-01T00:00:00+00:00) is not after `recordedFrom`"),
    ("""{ lawFindings(filter: {dated: {from: "2021-01-01", to: "2020-01-01"}}) { totalCount } }""",
     "`filter.dated`: the range ends (2020-01-01) before it starts (2021-01-01)"),
]  # fmt: skip


@pytest.mark.parametrize(("query", "says"), RANGES)
async def test_a_range_that_ends_before_it_starts_is_refused(
    gateway: Gateway, query: str, says: str
) -> None:
    """As `contracts(filter: {expiring: ...})` refuses it: before, an empty page."""
    code, message = refusal(await gateway.query(query, token=gateway.token("auditor")))
    assert code == "INVALID_ARGUMENT"
    assert message.startswith(says), message


ORGANISATIONS = """query ($p: String) { organisations(province: $p) { totalCount } }"""


async def test_a_misspelt_province_is_refused_and_a_real_one_without_organisations_is_empty(
    gateway: Gateway, bus: InProcessBus, store: InMemoryEventStore
) -> None:
    rows = "cbs_code,name,province\nGM0363,Amsterdam,Noord-Holland\nGM0014,Groningen,Groningen\n"
    await bus.accept(LoadMunicipalities(command_id="load-13", csv_text=rows))
    await settled(gateway, store)
    found = await gateway.query(ORGANISATIONS, {"p": "Noord-Holland"})
    assert found == {"data": {"organisations": {"totalCount": 1}}}, found
    # A province no organisation is in (yet, or at a past horizon) is a question (review16).
    empty = await gateway.query(ORGANISATIONS, {"p": "Flevoland"})
    assert empty == {"data": {"organisations": {"totalCount": 0}}}, empty
    code, message = refusal(await gateway.query(ORGANISATIONS, {"p": "Noord Holland"}))
    assert code == "INVALID_ARGUMENT"
    assert message.startswith(
        "`province`: 'Noord Holland' is not a province; the provinces are Drenthe, Flevoland,"
    ), message
