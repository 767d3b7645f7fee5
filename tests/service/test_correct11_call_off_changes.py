"""`amendContract`, `extendContract` and `terminateContract` naming a call-off's id are refused
CALL_OFF_NOT_CHANGEABLE, naming the framework and the participant: a call-off is recorded by
its participant with awardCallOff and the registry changes only the contracts signed through
it. Before: "contract ... has not been signed; record its signature first", though GraphQL
lists the call-off as a signed contract under that very id."""

from __future__ import annotations

from datetime import date

import pytest

from tests.integration.gateway.harness import Gateway
from tests.service.bus import InProcessBus
from tests.service.story import call_off, framework_signed, on

WHEN = "2021-03-01T10:00:00Z"
CHANGES = {
    "amendContract": ("AmendContractInput", {"summary": "prijs", "newValueEur": 1000.0}),
    "extendContract": ("ExtendContractInput", {"newEndDate": "2030-01-01"}),
    "terminateContract": ("TerminateContractInput", {"reason": "opgezegd"}),
}


async def change(gateway: Gateway, mutation: str, contract_id: str) -> dict[str, str]:
    kind, fields = CHANGES[mutation]
    text = f"""mutation($i: {kind}!) {{ {mutation}(input: $i) {{
      __typename ... on DomainError {{ code message }} }} }}"""
    given = {"contractId": contract_id, "occurredAt": WHEN, **fields}
    body = await gateway.query(text, {"i": given}, token=gateway.token("coordinator"))
    assert "errors" not in body, body
    answer: dict[str, str] = body["data"][mutation]
    return answer


@pytest.mark.parametrize("mutation", sorted(CHANGES))
async def test_a_call_off_is_not_changed_as_a_registry_contract(
    gateway: Gateway, bus: InProcessBus, mutation: str
) -> None:
    await framework_signed(bus)
    await bus.accept(call_off("co-ams-1", date(2020, 2, 1), occurred_at=on(date(2020, 2, 1))))
    refused = await change(gateway, mutation, "co-ams-1")
    assert refused["__typename"] == "DomainError", refused
    assert refused["code"] == "CALL_OFF_NOT_CHANGEABLE", refused
    message = refused["message"]
    assert "co-ams-1 is a call-off under framework gt-connect-fw, concluded by GM0363" in message
    assert "not a contract signed in the registry" in message
    # An id that names nothing is still answered as before.
    unknown = await change(gateway, mutation, "no-such-contract")
    assert unknown["code"] == "CONTRACT_NOT_FOUND", unknown
