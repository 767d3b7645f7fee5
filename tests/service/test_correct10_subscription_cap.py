"""One organisation holds at most `MAX_SUBSCRIPTIONS_PER_ORGANISATION` active webhook
subscriptions: the next is refused SUBSCRIPTION_LIMIT, naming the cap; an ended one frees its
place, and another organisation's count is its own. Before: one organisation could register
subscriptions without bound (each a URL every matching integration event is POSTed to)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from eventstore.clock import FixedClock
from eventstore.memory import InMemoryEventStore
from notifier.domain.deciders import MAX_SUBSCRIPTIONS_PER_ORGANISATION
from tests.integration.gateway.harness import Gateway
from tests.service.gateways import gateway_of_every_service

SUBSCRIBE = """mutation($i: SubscribeWebhookInput!) { subscribeWebhook(input: $i) {
  __typename ... on DomainError { code message } } }"""
UNSUBSCRIBE = """mutation($i: UnsubscribeWebhookInput!) { unsubscribeWebhook(input: $i) {
  __typename ... on DomainError { code message } } }"""


@pytest.fixture
async def gateway(
    store: InMemoryEventStore, clock: FixedClock, tmp_path: Path
) -> AsyncIterator[Gateway]:
    async with gateway_of_every_service(store, clock, tmp_path) as g:
        yield g


async def subscribe(gateway: Gateway, organisation: str, subscription: str) -> dict[str, str]:
    token = gateway.token("participant", organisation)
    given = {"subscriptionId": subscription, "organisationCode": organisation,
             "url": f"https://hooks.example.nl/{subscription}"}  # fmt: skip
    body = await gateway.query(SUBSCRIBE, {"i": given}, token=token)
    assert "errors" not in body, body
    answer: dict[str, str] = body["data"]["subscribeWebhook"]
    return answer


async def test_an_organisation_holds_a_bounded_number_of_active_subscriptions(
    gateway: Gateway,
) -> None:
    cap = MAX_SUBSCRIPTIONS_PER_ORGANISATION
    for i in range(cap):
        assert (await subscribe(gateway, "GM0363", f"ams-{i}"))["__typename"] == "CommandSucceeded"
    refused = await subscribe(gateway, "GM0363", "ams-one-too-many")
    assert refused["__typename"] == "DomainError", refused
    assert refused["code"] == "SUBSCRIPTION_LIMIT"
    assert f"GM0363 holds {cap} active webhook subscriptions" in refused["message"]
    # Another organisation's quota is its own.
    assert (await subscribe(gateway, "GM0518", "hague-0"))["__typename"] == "CommandSucceeded"
    # An ended subscription frees its place.
    ended = await gateway.query(
        UNSUBSCRIBE,
        {"i": {"subscriptionId": "ams-0", "organisationCode": "GM0363"}},
        token=gateway.token("participant", "GM0363"),
    )
    assert ended["data"]["unsubscribeWebhook"]["__typename"] == "CommandSucceeded", ended
    again = await subscribe(gateway, "GM0363", "ams-one-too-many")
    assert again["__typename"] == "CommandSucceeded", again
