"""Consistency tokens: the header holds for every root, a websocket's operations each have
their own tokens, and one request's waits are bounded by one timeout (review16)."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

import pytest
import websockets
from websockets.typing import Subprotocol

from gateway.app import build_app
from gateway.serve import Server
from gateway.token_waits import ConsistencyError, TokenWaits
from tests.integration.gateway.harness import Gateway

FAR = {"x-consistency-token": "REGISTRY:999999,ENROLMENT:999999"}


@pytest.mark.parametrize(
    "query",
    [
        "{ contracts(first: 1) { totalCount } }",
        '{ expiringContracts(from: "2020-01-01", to: "2030-01-01") { totalCount } }',
        "{ organisations { totalCount } }",
    ],
)
async def test_the_header_token_is_waited_for_by_every_root(gateway: Gateway, query: str) -> None:
    quick = gateway.settings.model_copy(update={"consistency_timeout": 0.3})
    assert gateway.read is not None
    server = await Server(build_app(gateway.read, quick), log_config=None).start()
    try:
        import httpx

        async with httpx.AsyncClient(timeout=60) as client:
            response = await client.post(
                f"{server.url}/graphql", json={"query": query}, headers=FAR
            )
        body = response.json()
    finally:
        await server.stop()
    assert body["errors"][0]["extensions"]["code"] == "CONSISTENCY_TIMEOUT", body


WITH = '{ contract(contractId: "c-1", consistencyToken: "REGISTRY:999999") { lastAmendment } }'
WITHOUT = '{ contract(contractId: "c-1") { lastAmendment } }'


async def _operation(ws: Any, n: int, query: str) -> dict[str, Any]:
    await ws.send(json.dumps({"id": str(n), "type": "subscribe", "payload": {"query": query}}))
    while True:
        msg = json.loads(await ws.recv())
        if msg.get("id") == str(n) and msg["type"] in ("next", "error"):
            return msg["payload"]  # type: ignore[no-any-return]


async def test_each_operation_of_a_connection_has_its_own_tokens_and_horizon(
    gateway: Gateway,
) -> None:
    assert gateway.read is not None
    quick = gateway.settings.model_copy(update={"consistency_timeout": 0.3})
    server = await Server(build_app(gateway.read, quick), log_config=None).start()
    url = server.url.replace("http", "ws") + "/graphql"
    try:
        ws = await websockets.connect(
            url, subprotocols=[Subprotocol("graphql-transport-ws")], open_timeout=60
        )
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        first = await _operation(ws, 1, WITH)
        second = await _operation(ws, 2, WITHOUT)
        past = await _operation(ws, 3, '{ contracts(asOf: "2016-01-01") { totalCount } }')
        present = await _operation(ws, 4, "{ contracts { totalCount } }")
        await ws.close()
    finally:
        await server.stop()
    assert first["errors"][0]["extensions"]["code"] == "CONSISTENCY_TIMEOUT", first
    assert second == {"data": {"contract": None}}, second
    assert "errors" not in past, past
    assert "errors" not in present, present  # its own horizon (was: HORIZON_MIXED)


class _Runner:
    """A read model's runner that reaches the positions after a while, or never."""

    def __init__(self, key: str, reaches_after: float | None) -> None:
        stream = SimpleNamespace(stream="REGISTRY")
        self.projection = SimpleNamespace(key=key, name=key, contexts=[stream])
        self.positions = {"REGISTRY": 0}
        self.reaches_after = reaches_after
        self.asked: list[float] = []  # the timeouts it was given
        self.heard_wall: float | None = None  # as a runner that heard no announcement

    async def wait_until(self, positions: dict[str, int], timeout: float) -> bool:
        self.asked.append(timeout)
        if self.reaches_after is not None and self.reaches_after <= timeout:
            await asyncio.sleep(self.reaches_after)
            self.positions = dict(positions)
            return True
        await asyncio.sleep(timeout)
        return False


class _Root: ...


class _Nested: ...


async def test_a_nested_read_after_the_root_waits_only_what_is_left_of_one_timeout() -> None:
    timeout = 0.5
    root, nested = _Runner("root", 0.9 * timeout), _Runner("nested", None)
    runners: dict[Any, Any] = {_Root: root, _Nested: nested}
    waits = TokenWaits(timeout)
    waits.add("REGISTRY:10")
    await waits.reach(runners, [_Root])  # reached at 0.9 of the timeout (or later)
    await asyncio.sleep(0.2 * timeout)  # the root's own statement: past the deadline
    with pytest.raises(ConsistencyError):
        await waits.reach(runners, [_Root, _Nested])
    assert root.asked == [timeout]
    assert nested.asked == [0.0]  # nothing left of the one timeout (was: a second, whole)
