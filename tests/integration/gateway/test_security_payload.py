"""A mutation larger than the broker carries in one message: a clear COMMAND_TOO_LARGE, not
"Unexpected error.", and nothing is sent (issue 15, Low).

The broker's limit (nats-server `max_payload`, 1 MB by default) is above the gateway's body
limit (256 KB), so with the defaults the body limit answers first (413, tested in
tests/service/test_gateway_security.py); a broker configured with a smaller `max_payload`
reaches the command bus's own check, which this test runs against a real nats-server.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bootstrap.system import System
from eventstore.nats_launcher import NatsServer
from gateway.auth import Role, issue_token
from tests.integration.gateway.test_mutations import REGISTER, gql

MAX_PAYLOAD = 32 * 1024

SIGN = """mutation($i: SignContractInput!) { signContract(input: $i) {
  __typename ... on CommandSucceeded { duplicate }
  ... on DomainError { code message } ... on InvalidInput { code message } } }"""

AMSTERDAM = {"commandId": "reg-ams", "code": "GM0363", "name": "Amsterdam", "kind": "MUNICIPALITY"}
KPN = {"commandId": "reg-kpn", "code": "KVK-27124701", "name": "KPN B.V.", "kind": "SUPPLIER"}


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    config = tmp_path / "nats.conf"
    store = tmp_path / "jetstream"
    config.write_text(f'jetstream {{ store_dir: "{store}" }}\nmax_payload: {MAX_PAYLOAD}\n')
    server = NatsServer(store, config_file=config).start()
    yield server
    server.stop()


def sign(contract_id: str, lots: int) -> dict[str, Any]:
    return {
        "i": {
            "commandId": f"sign-{contract_id}",
            "contractId": contract_id,
            "kind": "CONTRACT",
            "lotIds": [f"lot-{n:06d}-{'x' * 90}" for n in range(lots)],
            "contractingAuthority": "GM0363",
            "suppliers": [{"supplierId": "KVK-27124701", "name": "KPN B.V."}],
            "startDate": "2026-02-01",
            "endDate": "2027-01-31",
        }
    }


async def post(client: httpx.AsyncClient, system: System, variables: dict[str, Any]) -> Any:
    token = issue_token(system.settings, Role.COORDINATOR, "coordinator-1")
    return await client.post(
        "/graphql",
        json={"query": SIGN, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_mutation_larger_than_the_broker_payload_is_refused_by_name(
    system: System, client: httpx.AsyncClient
) -> None:
    for organisation in (AMSTERDAM, KPN):
        registered = await gql(client, system, REGISTER, {"i": organisation})
        assert registered["registerOrganisation"]["__typename"] == "CommandSucceeded"
    big = sign("too-big", lots=400)  # ~40 KB: within the body limit (and 500 values), not NATS's
    response = await post(client, system, big)
    assert len(response.request.content) < system.settings.max_body_bytes
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    result = body["data"]["signContract"]
    assert result["__typename"] == "DomainError", result
    assert result["code"] == "COMMAND_TOO_LARGE"
    assert f"at most {MAX_PAYLOAD} per message" in result["message"]
    assert "Unexpected error" not in response.text

    # Nothing was sent: the same command made smaller is new to the registry, and recorded.
    small = (await post(client, system, sign("too-big", lots=2))).json()
    assert small["data"]["signContract"] == {
        "__typename": "CommandSucceeded",
        "duplicate": False,
    }, small
