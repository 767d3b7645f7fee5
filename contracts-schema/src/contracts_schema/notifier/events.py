"""Domain events of the notifier context.

Aggregates: `expiry_schedule` (id = contract id; the warnings raised for that contract) and
`subscription` (a webhook subscription of one organisation).
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from pydantic import Field

from contracts_schema.base import DomainEvent, Identifier

Stage = Literal["24m", "18m", "12m", "6m", "3m", "expiry"]
DateKind = Literal["end", "max_extent"]


class ExpiryWarningRaised(DomainEvent):
    """A contract reached a warning threshold before its end or maximum extent date."""

    aggregate_type: ClassVar[str] = "expiry_schedule"
    context: ClassVar[str] = "notifier"

    contract_id: Identifier = Field(description="The contract the warning is about.")
    contract_kind: str = Field(description="framework, call_off, contract or negotiated_terms.")
    date_kind: DateKind = Field(
        description="Which date approaches: the current end, or the maximum extent date."
    )
    target_date: date = Field(description="The end (or maximum extent) date warned about.")
    stage: str = Field(
        description="Threshold reached: e.g. '24m' (months before the date) or 'expiry'."
    )
    months_before: int = Field(ge=0, description="Months before target_date; 0 at expiry.")
    due_on: date = Field(description="The day the threshold was reached.")
    raised_on: date = Field(description="The schedule day on which the warning was raised.")
    late: bool = Field(
        description="True when raised more than the grace period after due_on (a backdated"
        " fact, or the notifier was not running then)."
    )
    recipients: list[str] = Field(
        description="Organisation codes told about it: participants and contracting authority."
    )


class WebhookSubscribed(DomainEvent):
    """An organisation asked for integration events by HTTP POST to a URL."""

    aggregate_type: ClassVar[str] = "subscription"
    context: ClassVar[str] = "notifier"

    subscription_id: Identifier = Field(description="Client-chosen id of the subscription.")
    organisation_code: str = Field(description="The subscribing organisation (e.g. GM0363).")
    url: str = Field(description="Absolute http(s) URL receiving the POSTs.")
    event_types: list[str] = Field(
        description="CloudEvents types delivered; empty means every type the organisation gets."
    )


class WebhookUnsubscribed(DomainEvent):
    """The subscription stops receiving deliveries."""

    aggregate_type: ClassVar[str] = "subscription"
    context: ClassVar[str] = "notifier"

    subscription_id: Identifier = Field(description="The subscription that ended.")


class WebhookReplayRequested(DomainEvent):
    """Deliveries of the subscription are to be redone from an INTEGRATION stream sequence."""

    aggregate_type: ClassVar[str] = "subscription"
    context: ClassVar[str] = "notifier"

    subscription_id: Identifier = Field(description="The subscription to replay.")
    from_seq: int = Field(ge=1, description="First INTEGRATION stream sequence to deliver again.")


EVENTS: tuple[type[DomainEvent], ...] = (
    ExpiryWarningRaised,
    WebhookSubscribed,
    WebhookUnsubscribed,
    WebhookReplayRequested,
)
