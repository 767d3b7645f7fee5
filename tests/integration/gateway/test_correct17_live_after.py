"""correct17: the live `events` subscription refuses an `after` naming a stream the registry
does not have. Before, `after: "REGISTY:42"` (a typo, another system's position) parsed, the
subscription started at new events only for every real stream, and a subscriber resuming
after a disconnect missed every event since, with no word said."""

from __future__ import annotations

import pytest

from bootstrap.system import System
from gateway.auth import Role, issue_token
from gateway.serve import Server
from tests.integration.gateway.test_subscriptions import Subscriber


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_live_subscription_after_an_unknown_stream_is_refused(
    server: Server, system: System
) -> None:
    token = issue_token(system.settings, Role.COORDINATOR, "c")
    sub = await Subscriber.connect(server, token)
    await sub.subscribe({"after": "ENROLMENT:1,REGISTY:42"})
    [message] = await sub.errors()
    assert message.startswith("`after`: consistency token 'ENROLMENT:1,REGISTY:42' names no"), (
        message
    )
    assert "(REGISTY)" in message
    assert "ENROLMENT, NOTIFIER, REGISTRY" in message
    await sub.ws.close()
