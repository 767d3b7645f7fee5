"""Commands on a tender's lots: bids, provisional and definitive award, review."""

from __future__ import annotations

from pydantic import Field, field_validator

from contracts_schema.base import Command, Identifier
from contracts_schema.bounds import FreeText, Name
from contracts_schema.registry.tender_commands import TenderCommand
from contracts_schema.registry.values import OrganisationRef, ReviewOutcome


def _unique(ids: list[str]) -> list[str]:
    if len(set(ids)) != len(ids):
        raise ValueError("supplier ids must not repeat")
    return ids


class LotCommand(TenderCommand):
    lot_id: Identifier = Field(description="The lot.")


class RecordBids(LotCommand):
    """Record the bids received for a lot."""

    bid_count: int = Field(ge=0, le=100_000, description="Number of bids received.")
    bidder_ids: list[OrganisationRef] = Field(default_factory=list, description="Bidders.")


class DecideProvisionalAward(LotCommand):
    """Send the provisional award decision for a lot; its date starts the standstill."""

    supplier_ids: list[OrganisationRef] = Field(min_length=1, description="Suppliers awarded.")

    _check = field_validator("supplier_ids")(_unique)


class ReviseProvisionalAward(LotCommand):
    """Reconsider a provisional award: a new decision, a new standstill."""

    supplier_ids: list[OrganisationRef] = Field(min_length=1, description="Suppliers now.")
    reason: FreeText = Field(description="Why the award was reconsidered.")

    _check = field_validator("supplier_ids")(_unique)


class WithdrawProvisionalAward(LotCommand):
    """Withdraw a provisional award; the lot returns to evaluation."""

    reason: FreeText = Field(description="Why.")


class StartReviewProceedings(LotCommand):
    """Record that a lot's award is challenged."""

    forum: Name = Field(description="Court or review body.")
    claimant_id: OrganisationRef | None = Field(default=None, description="Who challenged it.")
    reference: Name | None = Field(default=None, description="Case reference.")


class ConcludeReviewProceedings(LotCommand):
    """Record how the review proceedings on a lot ended."""

    outcome: ReviewOutcome = Field(description="How the proceedings ended.")


class RecordStandstillEnded(LotCommand):
    """Record that the standstill period of a lot's award has ended."""


class MakeAwardDefinitive(LotCommand):
    """Make a lot's provisional award definitive (after the standstill)."""


AWARD_COMMANDS: tuple[type[Command], ...] = (
    RecordBids,
    DecideProvisionalAward,
    ReviseProvisionalAward,
    WithdrawProvisionalAward,
    StartReviewProceedings,
    ConcludeReviewProceedings,
    RecordStandstillEnded,
    MakeAwardDefinitive,
)
