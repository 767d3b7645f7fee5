"""`transferContract` naming a call-off's id is refused CALL_OFF_NOT_TRANSFERABLE, naming its
framework and its participant: a call-off stays with the participant that concluded it, and a
framework's contracting authority changes by transferring the framework. Before: "contract
... has not been signed; record its signature first", though GraphQL shows the call-off as a
signed contract under that very id."""

from __future__ import annotations

from datetime import date

from tests.integration.gateway.harness import Gateway
from tests.service.bus import InProcessBus
from tests.service.story import KPN, call_off, framework_signed, on

TRANSFER = """mutation($i: TransferContractInput!) { transferContract(input: $i) {
  __typename ... on DomainError { code message } } }"""


async def transfer(gateway: Gateway, contract_id: str) -> dict[str, str]:
    given = {"contractId": contract_id, "toAuthority": KPN, "occurredAt": "2021-03-01T10:00:00Z"}
    body = await gateway.query(TRANSFER, {"i": given}, token=gateway.token("coordinator"))
    assert "errors" not in body, body
    answer: dict[str, str] = body["data"]["transferContract"]
    return answer


async def test_a_call_off_is_not_transferred_on_its_own(
    gateway: Gateway, bus: InProcessBus
) -> None:
    await framework_signed(bus)
    await bus.accept(call_off("co-ams-1", date(2020, 2, 1), occurred_at=on(date(2020, 2, 1))))
    refused = await transfer(gateway, "co-ams-1")
    assert refused["__typename"] == "DomainError", refused
    assert refused["code"] == "CALL_OFF_NOT_TRANSFERABLE", refused
    message = refused["message"]
    assert "co-ams-1 is a call-off under framework gt-connect-fw, concluded by GM0363" in message
    assert "transfer the framework gt-connect-fw" in message
    # An id that names nothing is still answered as before.
    unknown = await transfer(gateway, "no-such-contract")
    assert unknown["code"] == "CONTRACT_NOT_FOUND", unknown
