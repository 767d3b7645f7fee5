"""Pure decisions of the notifier's aggregates: expiry_schedule and subscription."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from contracts_schema.base import DomainEvent
from contracts_schema.errors import RuleViolation
from contracts_schema.integration import INTEGRATION_TYPES
from contracts_schema.notifier.commands import (
    RaiseExpiryWarning,
    ReplayWebhookDeliveries,
    SubscribeWebhook,
    UnsubscribeWebhook,
)
from contracts_schema.notifier.events import (
    ExpiryWarningRaised,
    WebhookReplayRequested,
    WebhookSubscribed,
    WebhookUnsubscribed,
)
from notifier.domain.schedule import warning_key

# --- expiry_schedule: the warnings already raised for one contract ---------------------------


@dataclass(frozen=True)
class RaisedWarnings:
    keys: frozenset[str] = frozenset()


def evolve_schedule(state: RaisedWarnings, event: DomainEvent) -> RaisedWarnings:
    if isinstance(event, ExpiryWarningRaised):
        key = warning_key(event.contract_id, event.date_kind, event.target_date, event.stage)
        return RaisedWarnings(state.keys | {key})
    return state


def decide_raise(
    state: RaisedWarnings, command: RaiseExpiryWarning, ctx: object
) -> Sequence[DomainEvent]:
    key = warning_key(command.contract_id, command.date_kind, command.target_date, command.stage)
    if key in state.keys:
        return []  # another instance (or an earlier run) raised it: exactly once
    return [
        ExpiryWarningRaised(
            contract_id=command.contract_id,
            contract_kind=command.contract_kind,
            date_kind=command.date_kind,
            target_date=command.target_date,
            stage=command.stage,
            months_before=command.months_before,
            due_on=command.due_on,
            raised_on=command.raised_on,
            late=command.late,
            recipients=command.recipients,
        )
    ]


# --- subscription: one organisation's webhook ------------------------------------------------


@dataclass(frozen=True)
class Subscription:
    exists: bool = False
    active: bool = False
    organisation_code: str = ""
    url: str = ""
    event_types: tuple[str, ...] = ()


def evolve_subscription(state: Subscription, event: DomainEvent) -> Subscription:
    match event:
        case WebhookSubscribed():
            return Subscription(
                True, True, event.organisation_code, event.url, tuple(event.event_types)
            )
        case WebhookUnsubscribed():
            return replace(state, active=False)
    return state


_NAMED_MAX = 80  # longer than every integration event type's name

# Active webhook subscriptions one organisation may hold (docs/municipal-consumer.md): each is
# a URL the dispatchers POST every matching integration event to, so an organisation without
# a bound could make the notifier's delivery work (and its log) grow without end. An ended
# subscription does not count. Two subscriptions decided at the same instant (different ids,
# so different aggregates) may each see the other not yet: the bound holds to within the
# commands in flight at once.
MAX_SUBSCRIPTIONS_PER_ORGANISATION = 20


@dataclass(frozen=True)
class SubscribeFacts:
    """How many active subscriptions the subscribing organisation holds already."""

    active: int = 0


def decide_subscribe(
    state: Subscription, command: SubscribeWebhook, ctx: object
) -> Sequence[DomainEvent]:
    unknown = sorted(set(command.event_types) - set(INTEGRATION_TYPES))
    if unknown:
        # Named back bounded: the request's own text is not echoed at any length.
        named = [t if len(t) <= _NAMED_MAX else f"{t[:_NAMED_MAX]}..." for t in unknown[:5]]
        more = f" (and {len(unknown) - 5} more)" if len(unknown) > 5 else ""
        raise RuleViolation(
            "UNKNOWN_EVENT_TYPE",
            f"no integration event type {', '.join(named)}{more}; known types:"
            f" {', '.join(sorted(INTEGRATION_TYPES))}",
        )
    if state.exists:
        # Whose it is stays unsaid: an id must not reveal another organisation's webhooks.
        raise RuleViolation(
            "SUBSCRIPTION_EXISTS",
            f"subscription id {command.subscription_id} is taken; choose a new subscription id",
        )
    facts = getattr(ctx, "facts", None)
    held = facts.active if isinstance(facts, SubscribeFacts) else 0
    if held >= MAX_SUBSCRIPTIONS_PER_ORGANISATION:
        raise RuleViolation(
            "SUBSCRIPTION_LIMIT",
            f"{command.organisation_code} holds {held} active webhook subscriptions, the most"
            f" one organisation may hold ({MAX_SUBSCRIPTIONS_PER_ORGANISATION}); unsubscribe one"
            " it no longer needs (UnsubscribeWebhook), or widen an existing one's event types",
        )
    return [
        WebhookSubscribed(
            subscription_id=command.subscription_id,
            organisation_code=command.organisation_code,
            url=command.url,
            event_types=sorted(set(command.event_types)),
        )
    ]


def _require_active(state: Subscription, subscription_id: str, organisation: str) -> None:
    # Another organisation's subscription is answered as if it did not exist.
    if not state.exists or state.organisation_code != organisation:
        raise RuleViolation(
            "SUBSCRIPTION_UNKNOWN",
            f"{organisation} has no webhook subscription {subscription_id}",
        )
    if not state.active:
        raise RuleViolation(
            "SUBSCRIPTION_ENDED", f"webhook subscription {subscription_id} was unsubscribed"
        )


def decide_unsubscribe(
    state: Subscription, command: UnsubscribeWebhook, ctx: object
) -> Sequence[DomainEvent]:
    _require_active(state, command.subscription_id, command.organisation_code)
    return [WebhookUnsubscribed(subscription_id=command.subscription_id)]


def decide_replay(
    state: Subscription, command: ReplayWebhookDeliveries, ctx: object
) -> Sequence[DomainEvent]:
    _require_active(state, command.subscription_id, command.organisation_code)
    return [
        WebhookReplayRequested(subscription_id=command.subscription_id, from_seq=command.from_seq)
    ]
