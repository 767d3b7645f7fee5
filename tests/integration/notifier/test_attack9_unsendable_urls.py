"""attack9: a subscription stored before webhook URLs were bounded (SubscribeWebhook now refuses
them) whose URL the HTTP client cannot send: CR LF in it, a port out of range, an unclosed IPv6
host. Each delivery attempt is recorded as failed, naming why, and parked after the allowed
attempts; the dispatcher goes on delivering to the others. Before: the attempt raised outside
httpx's error family (`InvalidURL`, a `ValueError` from the URL check, an `ExceptionGroup` from
the connect), so nothing was recorded, the claim lapsed and the delivery was claimed again
forever, never parked, one logged error per round."""

from __future__ import annotations

import pytest
from nats.aio.client import Client as NATS

from contracts_schema.notifier.events import WebhookSubscribed
from eventstore.clock import FixedClock
from eventstore.store import EventStore
from eventstore.testing.nats_server import free_port
from notifier.webhooks import attempts, deliveries
from tests.integration.notifier.facts import given, notifier
from tests.integration.notifier.test_webhooks import KEY, Receiver, publish, rows, until

UNSENDABLE = {
    "crlf": "http://127.0.0.1:{port}/hook\r\nX-Injected: 1",
    "port-out-of-range": "http://127.0.0.1:99999/hook",
    "unclosed-ipv6": "http://[::1/hook",
}
EXPIRING = "nl.gt.contract.expiring.v1"


@pytest.mark.parametrize("kind", sorted(UNSENDABLE))
async def test_a_stored_url_the_client_cannot_send_is_parked_with_its_reason(
    nats_client: NATS, fixed_clock: FixedClock, sqlite_url: str, kind: str
) -> None:
    port = free_port()
    receiver = Receiver(port)
    store = EventStore(nats_client, fixed_clock)
    # As stored before the command's bounds: the event keeps its looser type.
    for sub, url in (("a-bad", UNSENDABLE[kind].format(port=port)), ("sub-1", None)):
        fact = WebhookSubscribed(
            subscription_id=sub,
            organisation_code="GM0363",
            url=url or f"http://127.0.0.1:{port}/hook",
            event_types=[EXPIRING],
        )
        await given(store, sub, fact, f"s-{sub}")
    service = notifier(
        nats_client, fixed_clock, sqlite_url, webhook_master_key=KEY, webhook_max_attempts=2,
        webhook_allowed_hosts=("127.0.0.1", "::1"), webhook_base_delay=0.01,
        webhook_max_delay=0.02, webhook_poll_interval=0.02, webhook_claim_lease=2.0, webhook_timeout=1.0,
    )  # fmt: skip
    await service.start(publish=False)
    try:
        await service.ticker.catch_up()
        await service.webhooks.run_once()  # cursors start at the stream's head
        await publish(nats_client, f"gt.org.GM0363.{EXPIRING}", "e1", EXPIRING)
        # A bound for the test only: before the fix the bad delivery was never parked.
        await until(
            lambda: (
                {(d.subscription_id, d.status) for d in rows(service, deliveries)}
                == {("a-bad", "parked"), ("sub-1", "delivered")}
            ),
            timeout=20,
        )
    finally:
        await service.stop()
        receiver.close()
    bad = [a for a in rows(service, attempts) if a.subscription_id == "a-bad"]
    assert [a.outcome for a in bad] == ["failed", "parked"]
    assert all(a.error and "URL" in a.error for a in bad), [a.error for a in bad]
    assert len(receiver.accepted) == 1
