"""What a new webhook subscription is decided on beyond its own aggregate: how many active
subscriptions its organisation holds already (`deciders.MAX_SUBSCRIPTIONS_PER_ORGANISATION`).

Subscriptions are few and each is its own aggregate: the count is read from the notifier's
subscription events, as stored, skipping what no reader takes as fact (a forged event must not
fill an organisation's quota, nor free it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from contracts_schema.notifier.commands import SubscribeWebhook
from contracts_schema.notifier.events import WebhookSubscribed, WebhookUnsubscribed
from contracts_schema.subjects import NOTIFIER
from contracts_schema.upcasting import decode_envelope
from eventstore.folded import stream_exists
from eventstore.ports import EventStorePort
from eventstore.trust import trust_of
from notifier.domain.deciders import SubscribeFacts


def subscribe_facts(
    store: EventStorePort,
) -> Callable[[SubscribeWebhook], Awaitable[SubscribeFacts]]:
    async def load(command: SubscribeWebhook) -> SubscribeFacts:
        return SubscribeFacts(active=await active_subscriptions(store, command.organisation_code))

    return load


async def active_subscriptions(store: EventStorePort, organisation: str) -> int:
    """How many subscriptions of `organisation` are subscribed and not ended."""
    owner: dict[str, str] = {}
    active: set[str] = set()
    trust = trust_of(getattr(store, "nc", None))
    if not await stream_exists(store, NOTIFIER):
        return 0
    async for e in store.read_stream(NOTIFIER, 1, NOTIFIER.aggregate_type_filter("subscription")):
        if trust.stored_problem(e) is not None:
            continue
        fact = decode_envelope(e.envelope)
        if isinstance(fact, WebhookSubscribed):
            owner[fact.subscription_id] = fact.organisation_code
            active.add(fact.subscription_id)
        elif isinstance(fact, WebhookUnsubscribed):
            active.discard(fact.subscription_id)
    return sum(1 for s in active if owner.get(s) == organisation)
