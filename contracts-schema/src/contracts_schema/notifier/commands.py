"""Commands of the notifier context."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import Field, field_validator

from contracts_schema.base import Command, Identifier
from contracts_schema.notifier.events import DateKind
from contracts_schema.notifier.urls import URL_MAX, form_problem
from contracts_schema.registry.values import ContractKind

ORGANISATION_CODE = r"^(GM\d{4}|KVK-\d{8}|OIN-\d{20})$"


class RaiseExpiryWarning(Command):
    """Issued by the notifier's own schedule; its command id is derived from the warning key."""

    context: ClassVar[str] = "notifier"
    # Dated by the schedule day it runs for (its due day), not by a client's clock.
    future_valid_time_allowed: ClassVar[bool] = True

    contract_id: Identifier = Field(description="The contract reaching a threshold.")
    contract_kind: ContractKind = Field(
        description="framework, call_off, contract or negotiated_terms."
    )
    date_kind: DateKind = Field(description="end or max_extent.")
    target_date: date = Field(description="The end (or maximum extent) date warned about.")
    stage: str = Field(description="Threshold: '<n>m' or 'expiry'.")
    months_before: int = Field(ge=0, description="Months before target_date; 0 at expiry.")
    due_on: date = Field(description="The day the threshold was reached.")
    raised_on: date = Field(description="The schedule day (the tick's date).")
    late: bool = Field(description="Raised more than the grace period after due_on.")
    recipients: list[str] = Field(description="Organisation codes to tell.")


class SubscribeWebhook(Command):
    """An organisation subscribes a URL to its integration events."""

    context: ClassVar[str] = "notifier"

    subscription_id: Identifier = Field(description="Client-chosen id of the subscription.")
    organisation_code: str = Field(
        pattern=ORGANISATION_CODE, description="The subscribing organisation (GM0363, KVK-...)."
    )
    url: str = Field(
        max_length=URL_MAX,
        description="Absolute http(s) URL receiving the POSTs: no credentials, no whitespace"
        " or control characters, a valid port.",
    )
    event_types: list[str] = Field(
        default_factory=list,
        description="CloudEvents types to deliver (e.g. nl.gt.contract.expiring.v1); empty = all.",
    )

    @field_validator("url")
    @classmethod
    def _absolute_http_url(cls, value: str) -> str:
        problem = form_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value


class UnsubscribeWebhook(Command):
    """Stop deliveries to a subscription."""

    context: ClassVar[str] = "notifier"

    subscription_id: Identifier = Field(description="The subscription to end.")
    organisation_code: str = Field(
        pattern=ORGANISATION_CODE, description="The organisation that holds the subscription."
    )


class ReplayWebhookDeliveries(Command):
    """Deliver a subscription's events again from an INTEGRATION stream sequence on."""

    context: ClassVar[str] = "notifier"

    subscription_id: Identifier = Field(description="The subscription to replay.")
    organisation_code: str = Field(
        pattern=ORGANISATION_CODE, description="The organisation that holds the subscription."
    )
    from_seq: int = Field(ge=1, description="First INTEGRATION stream sequence to deliver again.")


COMMANDS: tuple[type[Command], ...] = (
    RaiseExpiryWarning,
    SubscribeWebhook,
    UnsubscribeWebhook,
    ReplayWebhookDeliveries,
)
