"""correct21: a live subscription's filter with an id longer than any id is refused.

`subscription { events(filter: {aggregateId: <100,000 characters>}) }` started a stream that
could never deliver (no aggregate has such an id) and said nothing; it is refused as
INVALID_ARGUMENT naming `filter.aggregateId` (or `filter.organisationCode`), over the real
websocket of a gateway on NATS, anonymous or signed in. An id of 128 characters still
subscribes.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from bootstrap.system import System
from contracts_schema.base import ID_MAX
from gateway.auth import Role, issue_token
from gateway.serve import Server
from tests.integration.gateway.test_subscriptions import Subscriber

LONG = "x" * 100_000


async def _first(sub: Subscriber) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(sub.ws.recv(), 60))
    return message


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("field", ["aggregateId", "organisationCode"])
async def test_a_live_filter_with_a_long_id_is_refused_naming_it(
    server: Server, system: System, field: str
) -> None:
    coordinator = issue_token(system.settings, Role.COORDINATOR, "c")
    for token in (None, coordinator):
        sub = await Subscriber.connect(server, token)
        try:
            await sub.subscribe({"f": {field: LONG}})
            answer = await _first(sub)
            # before: nothing (a stream that never delivers), or FORBIDDEN for anonymous
            assert answer["type"] in ("error", "next"), answer
            payload = answer["payload"]
            [error] = payload if answer["type"] == "error" else payload["errors"]
            assert error["extensions"]["code"] == "INVALID_ARGUMENT", answer
            assert error["message"] == (
                f"`filter.{field}` is 100000 characters long; an id is at most {ID_MAX} characters"
            )
        finally:
            await sub.ws.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_live_filter_with_an_id_as_long_as_may_be_subscribes(
    server: Server, system: System
) -> None:
    coordinator = issue_token(system.settings, Role.COORDINATOR, "c")
    sub = await Subscriber.connect(server, coordinator)
    try:
        await sub.subscribe({"f": {"aggregateId": "x" * ID_MAX}})
        await sub.ws.send(json.dumps({"type": "ping"}))
        answer = await _first(sub)  # no error first: the subscription stands
        assert answer["type"] == "pong", answer
    finally:
        await sub.ws.close()
