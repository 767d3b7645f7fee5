"""correct19: a `connection_init` whose Authorization is not a string.

A subscriber sending `{"authorization": 123}` (or a list, an object) got `connection_ack`,
then its subscription ended at once with `complete` and no error: the principal's parse met
an int (`'int' object has no attribute 'strip'`), an unexpected error the subscription
swallowed. A client saw an empty, finished stream and no reason. Now it is refused with the
other bad Authorization values: UNAUTHENTICATED, saying the value must be `Bearer <JWT>`."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets

from bootstrap.system import System
from gateway.serve import Server

SUBSCRIBE = "subscription { events { eventType } }"


async def first_answer(server: Server, params: dict[str, Any]) -> dict[str, Any]:
    url = server.url.replace("http", "ws") + "/graphql"
    async with websockets.connect(
        url, subprotocols=["graphql-transport-ws"], open_timeout=60
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": params}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 60))["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}}))
        answer: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 60))
        return answer


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "value", [123, ["Bearer x"], {"token": "x"}], ids=["int", "list", "object"]
)
async def test_an_authorization_that_is_no_string_is_refused_saying_so(
    server: Server, system: System, value: object
) -> None:
    answer = await first_answer(server, {"authorization": value})
    assert answer["type"] == "next", answer  # before: {"id": "1", "type": "complete"}
    [error] = answer["payload"]["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED", answer
    assert "Bearer <JWT>" in error["message"], answer
