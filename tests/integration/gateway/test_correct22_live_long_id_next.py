"""correct22: a live filter's too-long id is refused as the queries refuse it -- a `next` whose
payload carries the error, then `complete` -- not as a protocol `error` message.

correct21's check ran in the field's `subscribe` before the stream existed, so strawberry took
the refusal for a pre-execution error and answered graphql-transport-ws's `error` message (the
protocol's answer to a malformed operation), where every other refusal of the live field
(`after` naming no stream, another organisation's events) is a `next` with `errors`, as a query
answers over HTTP. A client that reads `next` payloads for refusals saw none. The connection
stays usable after the refusal."""

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

LONG = "y" * 5_000


async def _received(sub: Subscriber) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(sub.ws.recv(), 60))
    return message


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("field", ["aggregateId", "organisationCode"])
async def test_a_long_id_in_a_live_filter_is_a_next_with_errors_then_complete(
    server: Server, system: System, field: str
) -> None:
    coordinator = issue_token(system.settings, Role.COORDINATOR, "c")
    for token in (None, coordinator):
        sub = await Subscriber.connect(server, token)
        try:
            await sub.subscribe({"f": {field: LONG}})
            answer = await _received(sub)
            assert answer["type"] == "next", answer  # before: "error"
            assert answer["id"] == "1"
            assert answer["payload"]["data"] is None
            [error] = answer["payload"]["errors"]
            assert error["extensions"]["code"] == "INVALID_ARGUMENT"
            assert error["message"] == (
                f"`filter.{field}` is 5000 characters long; an id is at most {ID_MAX} characters"
            )
            assert (await _received(sub)) == {"id": "1", "type": "complete"}
            await sub.ws.send(json.dumps({"type": "ping"}))
            assert (await _received(sub))["type"] == "pong"  # the connection still serves
        finally:
            await sub.ws.close()
