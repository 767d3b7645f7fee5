"""The notifier's command routes, explicit.

`RaiseExpiryWarning` is internal: the schedule issues it with a command id derived from the
warning, so a second instance, a restart or a replay gets the first reply instead of a second
event. Only the subscription commands are served on NATS.
"""

from __future__ import annotations

from typing import Any

from contracts_schema.catalogue import EVENT_TYPES
from contracts_schema.notifier.commands import (
    RaiseExpiryWarning,
    ReplayWebhookDeliveries,
    SubscribeWebhook,
    UnsubscribeWebhook,
)
from contracts_schema.privacy import ErasePerson
from contracts_schema.subjects import NOTIFIER
from eventstore.commands import CommandParts, CommandRoute, Decider
from eventstore.ports import EventStorePort
from notifier.domain.deciders import (
    RaisedWarnings,
    Subscription,
    decide_raise,
    decide_replay,
    decide_subscribe,
    decide_unsubscribe,
    evolve_schedule,
    evolve_subscription,
)
from notifier.domain.person import Person, decide_erase, evolve_person
from notifier.subscription_facts import subscribe_facts

SCHEDULE = Decider(NOTIFIER, "expiry_schedule", RaisedWarnings(), evolve_schedule)
SUBSCRIPTION = Decider(NOTIFIER, "subscription", Subscription(), evolve_subscription)
PERSON = Decider(NOTIFIER, "person", Person(), evolve_person)

RAISE_WARNING: CommandRoute[Any, Any] = CommandRoute(
    RaiseExpiryWarning, SCHEDULE, lambda c: c.contract_id, decide_raise
)


def public_routes(store: EventStorePort) -> list[CommandRoute[Any, Any]]:
    return [
        # A new subscription is decided on how many its organisation holds (the cap).
        CommandRoute(
            SubscribeWebhook,
            SUBSCRIPTION,
            lambda c: c.subscription_id,
            decide_subscribe,
            subscribe_facts(store),
        ),
        CommandRoute(
            UnsubscribeWebhook, SUBSCRIPTION, lambda c: c.subscription_id, decide_unsubscribe
        ),
        CommandRoute(
            ReplayWebhookDeliveries, SUBSCRIPTION, lambda c: c.subscription_id, decide_replay
        ),
        # Sent by the gateway when it erases a person's identity (docs/privacy.md).
        CommandRoute(ErasePerson, PERSON, lambda c: c.pseudonym, decide_erase),
    ]


# Made into CommandServices by the composition root (`bootstrap.parts`).
PUBLIC_COMMANDS = CommandParts(NOTIFIER, public_routes, EVENT_TYPES)
INTERNAL_COMMANDS = CommandParts(NOTIFIER, lambda _store: [RAISE_WARNING], EVENT_TYPES)
