"""Events of the tender aggregate from bids to definitive award, per lot."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from contracts_schema.base import DomainEvent, Identifier
from contracts_schema.registry.tender_events import TenderEvent
from contracts_schema.registry.values import OrganisationCode, ReviewOutcome


class BidsRecorded(TenderEvent):
    """The bids received for a lot were recorded."""

    lot_id: Identifier = Field(description="The lot the bids are for.")
    received_on: date = Field(description="Closing date on which the bids were received.")
    bid_count: int = Field(ge=0, description="Number of bids received.")
    bidder_ids: list[OrganisationCode] = Field(
        default_factory=list, description="Bidders, where known."
    )


class ProvisionalAwardDecided(TenderEvent):
    """The provisional award decision for a lot was sent to the tenderers."""

    lot_id: Identifier = Field(description="The lot awarded.")
    supplier_ids: list[OrganisationCode] = Field(min_length=1, description="Suppliers awarded.")
    decision_sent_on: date = Field(description="Date the award decision was sent.")
    standstill_ends_on: date = Field(
        description="Last day of the standstill period (20 calendar days from the day after"
        " the decision was sent); signing is possible from the next day."
    )
    source_award_id: str | None = Field(
        default=None,
        description="Imported only: the id of the published award (OCDS `awards[].id`) this"
        " records, so that a later release naming it finds the lot.",
    )


class ProvisionalAwardRevised(TenderEvent):
    """A provisional award was reconsidered; a new decision starts a new standstill."""

    lot_id: Identifier = Field(description="The lot.")
    previous_supplier_ids: list[OrganisationCode] = Field(description="Suppliers before.")
    supplier_ids: list[OrganisationCode] = Field(min_length=1, description="Suppliers now.")
    decision_sent_on: date = Field(description="Date the revised decision was sent.")
    standstill_ends_on: date = Field(description="Last day of the new standstill period.")
    reason: str = Field(min_length=1, description="Why the award was reconsidered.")
    source_award_id: str | None = Field(
        default=None,
        description="Imported only: the id of the published award (OCDS `awards[].id`) this"
        " records, so that a later release naming it finds the lot.",
    )


class ProvisionalAwardWithdrawn(TenderEvent):
    """A provisional award was withdrawn; the lot is back in evaluation."""

    lot_id: Identifier = Field(description="The lot.")
    supplier_ids: list[OrganisationCode] = Field(description="Suppliers whose award ended.")
    withdrawn_on: date = Field(description="Date of the withdrawal.")
    reason: str = Field(min_length=1, description="Why it was withdrawn.")


class ReviewProceedingsStarted(TenderEvent):
    """A tenderer challenged the provisional award (e.g. kort geding)."""

    lot_id: Identifier = Field(description="The lot whose award is challenged.")
    claimant_id: OrganisationCode | None = Field(default=None, description="Who challenged it.")
    forum: str = Field(min_length=1, description="Court or review body.")
    started_on: date = Field(description="Date the proceedings started.")
    reference: str | None = Field(default=None, description="Case reference.")


class ReviewProceedingsConcluded(TenderEvent):
    """Review proceedings on a lot's award ended."""

    lot_id: Identifier = Field(description="The lot.")
    concluded_on: date = Field(description="Date of the ruling or settlement.")
    outcome: ReviewOutcome = Field(description="How the proceedings ended.")


class StandstillEnded(TenderEvent):
    """The standstill period of a lot's provisional award ended without obstacle."""

    lot_id: Identifier = Field(description="The lot.")
    ended_on: date = Field(description="Last day of the standstill period.")


class AwardMadeDefinitive(TenderEvent):
    """The award of a lot became definitive."""

    lot_id: Identifier = Field(description="The lot.")
    supplier_ids: list[OrganisationCode] = Field(min_length=1, description="Suppliers awarded.")
    awarded_on: date = Field(description="Date of the definitive award.")
    source_award_id: str | None = Field(
        default=None,
        description="Imported only: the id of the published award (OCDS `awards[].id`) this"
        " records, so that a later release naming it finds the lot.",
    )


AWARD_EVENTS: tuple[type[DomainEvent], ...] = (
    BidsRecorded,
    ProvisionalAwardDecided,
    ProvisionalAwardRevised,
    ProvisionalAwardWithdrawn,
    ReviewProceedingsStarted,
    ReviewProceedingsConcluded,
    StandstillEnded,
    AwardMadeDefinitive,
)
