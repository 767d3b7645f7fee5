"""attack9: a webhook URL is stored in the notifier's event log for good and sent at every
delivery, so a participant's SubscribeWebhook is refused, by name, when its URL is not one an
HTTP client can send or should keep: control characters (NUL, CR LF), bidirectional overrides,
whitespace, more than 2048 characters, a port out of range, an unparsable IPv6 host, a user
name or password. Before: each was accepted and stored (a 200 KB URL too), and the malformed
IPv6 hosts were answered "Unexpected error." (a ValueError out of the URL check)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from eventstore.clock import FixedClock
from eventstore.memory import InMemoryEventStore
from tests.integration.gateway.harness import Gateway
from tests.service.gateways import gateway_of_every_service

SUBSCRIBE = """mutation($i: SubscribeWebhookInput!) { subscribeWebhook(input: $i) {
  __typename ... on InvalidInput { message problems { path message } }
  ... on DomainError { code message } } }"""

REFUSED = [
    ("https://hooks.example.nl/a\x00b", "(found U+0000)"),
    ("https://hooks.example.nl/\r\nX-Injected: 1", "(found U+000D)"),
    ("https://hooks.example.nl/\u202egpj.exe", "(found U+202E)"),
    ("https://hooks.example.nl/a b", "(found U+0020)"),
    ("https://hooks.example.nl/" + "a" * 200_000, "at most 2048 characters"),
    ("https://hooks.example.nl:99999/", "Port out of range"),
    ("https://[::1/hook", "does not parse: Invalid IPv6 URL"),
    ("https://[zz]/hook", "does not parse"),
    ("https://user:secret@hooks.example.nl/", "must not carry a user name or password"),
    ("https:///hook", "has no host"),
]


@pytest.fixture
async def gateway(
    store: InMemoryEventStore, clock: FixedClock, tmp_path: Path
) -> AsyncIterator[Gateway]:
    async with gateway_of_every_service(store, clock, tmp_path) as g:
        yield g


@pytest.mark.parametrize(("url", "said"), REFUSED, ids=[s for _u, s in REFUSED])
async def test_a_webhook_url_that_cannot_be_sent_or_kept_is_refused_by_name(
    gateway: Gateway, url: str, said: str
) -> None:
    amsterdam = gateway.token("participant", "GM0363")
    given = {"subscriptionId": "s-1", "organisationCode": "GM0363"}
    body = await gateway.query(SUBSCRIBE, {"i": {**given, "url": url}}, token=amsterdam)
    assert "errors" not in body, body
    answer = body["data"]["subscribeWebhook"]
    assert answer["__typename"] == "InvalidInput", answer
    assert [p["path"] for p in answer["problems"]] == ["url"]
    assert said in answer["message"], answer["message"]
    # Nothing was stored: the same subscription id is still free for a proper URL.
    good = {**given, "url": "https://hooks.example.nl/gt?org=GM0363"}
    ok = await gateway.query(SUBSCRIBE, {"i": good}, token=amsterdam)
    assert ok["data"]["subscribeWebhook"]["__typename"] == "CommandSucceeded", ok
