"""The live `events` subscription refuses an unknown event type as the event log does: before,
`eventTypes: ["Nope"]` subscribed to a stream that never delivered anything."""

from __future__ import annotations

import pytest

from bootstrap.system import System
from gateway.auth import Role, issue_token
from gateway.serve import Server
from tests.integration.gateway.test_subscriptions import Subscriber


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_live_subscription_to_an_unknown_event_type_is_refused(
    server: Server, system: System
) -> None:
    token = issue_token(system.settings, Role.COORDINATOR, "c")
    sub = await Subscriber.connect(server, token)
    await sub.subscribe({"f": {"eventTypes": ["OrganisationRegistered", "Nope"]}})
    [message] = await sub.errors()
    assert message.startswith("`eventTypes`: unknown event type 'Nope'; the known types are"), (
        message
    )
    assert "OrganisationRegistered" in message
    await sub.ws.close()
