"""Finding 8: a live subscription ends when its token expires; a client holds a bounded number."""

from __future__ import annotations

import json

import pytest

from bootstrap.system import System
from gateway.auth import Role, issue_token
from gateway.serve import Server
from tests.integration.gateway.test_subscriptions import SUBSCRIBE, Subscriber


async def subscribe(sub: Subscriber, sid: str) -> None:
    payload = {"query": SUBSCRIBE, "variables": {}}
    await sub.ws.send(json.dumps({"id": sid, "type": "subscribe", "payload": payload}))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_subscription_ends_when_its_token_expires(server: Server, system: System) -> None:
    # 5 s, not 2: `exp` is whole seconds, so a 2 s token lived 1-2 s, and a loaded machine
    # could spend that before the connection was accepted (refused: no ack, the test failed).
    short = issue_token(system.settings, Role.AUDITOR, "a", lifetime_seconds=5)
    sub = await Subscriber.connect(server, short)
    await subscribe(sub, "1")
    message = await sub.next(timeout=60)  # no event is sent: only the expiry ends it
    assert message["type"] in ("error", "next"), message
    assert any("token has expired" in m for m in await_errors(message)), message
    await sub.ws.close()


def await_errors(message: dict) -> list[str]:  # type: ignore[type-arg]
    payload = message["payload"]
    errors = payload if message["type"] == "error" else payload.get("errors", [])
    return [e["message"] for e in errors]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_client_holds_at_most_its_share_of_subscriptions(
    server: Server, system: System
) -> None:
    token = issue_token(system.settings, Role.AUDITOR, "busy")
    cap = system.settings.max_subscriptions_per_client
    first, second = await Subscriber.connect(server, token), await Subscriber.connect(server, token)
    for i in range(cap):
        await subscribe(first if i % 2 else second, str(i))
    await subscribe(first, "one-too-many")
    message = await first.next(timeout=60)
    assert any("live subscriptions (the per-client limit)" in m for m in await_errors(message))
    await first.ws.close()
    await second.ws.close()
