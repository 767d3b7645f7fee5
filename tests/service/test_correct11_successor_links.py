"""`linkSuccessorProgramme` and `linkSuccessorTender` naming an id the registry does not hold
(a typo, or a successor not planned yet) are refused SUCCESSOR_PROGRAMME_NOT_FOUND and
SUCCESSOR_TENDER_NOT_FOUND. Before: accepted, leaving a successor that no view can show and
no expiry warning can point to."""

from __future__ import annotations

from datetime import date
from typing import Any

from contracts_schema.registry import commands as cmd
from tests.integration.gateway.harness import Gateway
from tests.service.bus import InProcessBus
from tests.service.story import LNVT, on, plan

LINK_PROGRAMME = """mutation($i: LinkSuccessorProgrammeInput!) {
  linkSuccessorProgramme(input: $i) { __typename ... on DomainError { code message } } }"""
LINK_TENDER = """mutation($i: LinkSuccessorTenderInput!) {
  linkSuccessorTender(input: $i) { __typename ... on DomainError { code message } } }"""
WHEN = "2020-06-01T10:00:00Z"


async def link(gateway: Gateway, text: str, given: dict[str, str]) -> dict[str, Any]:
    body = await gateway.query(
        text, {"i": {**given, "occurredAt": WHEN}}, token=gateway.token("coordinator")
    )
    assert "errors" not in body, body
    answer: dict[str, Any] = next(iter(body["data"].values()))
    return answer


def programme(pid: str) -> cmd.PlanProgramme:
    return cmd.PlanProgramme(
        command_id=f"plan-{pid}", programme_id=pid, name=pid, coordinator=LNVT,
        occurred_at=on(date(2019, 1, 1)),
    )  # fmt: skip


async def test_a_programme_is_linked_only_to_a_planned_successor(
    gateway: Gateway, bus: InProcessBus
) -> None:
    await bus.accept(programme("OT2010"))
    given = {"programmeId": "OT2010", "successorProgrammeId": "OT2O17"}  # a typo
    refused = await link(gateway, LINK_PROGRAMME, given)
    assert refused["code"] == "SUCCESSOR_PROGRAMME_NOT_FOUND", refused
    assert "programme OT2O17 has not been planned" in refused["message"]
    await bus.accept(programme("OT2O17"))
    accepted = await link(gateway, LINK_PROGRAMME, given)
    assert accepted["__typename"] != "DomainError", accepted


async def test_a_tender_is_linked_only_to_a_planned_successor(
    gateway: Gateway, bus: InProcessBus
) -> None:
    await bus.accept(plan("gt-connect"))
    given = {"tenderId": "gt-connect", "successorTenderId": "gt-connect-2"}
    refused = await link(gateway, LINK_TENDER, given)
    assert refused["code"] == "SUCCESSOR_TENDER_NOT_FOUND", refused
    assert "tender gt-connect-2 has not been planned" in refused["message"]
    await bus.accept(plan("gt-connect-2"))
    accepted = await link(gateway, LINK_TENDER, given)
    assert accepted["__typename"] != "DomainError", accepted
