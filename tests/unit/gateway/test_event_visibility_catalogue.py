"""review13: every list an event carries is declared as naming participants (the event is then
hidden from participants: `gateway.event_visibility`) or as public. attack10 hid
`ParticipantListFrozen`; `TenderPublished` carried the same list and was missed. This test
fails when a list field is added to an event without a decision."""

from __future__ import annotations

import typing

from contracts_schema.catalogue import EVENT_MODELS
from gateway.event_visibility import HIDDEN_FROM_PARTICIPANTS, LISTS_OF_PARTICIPANTS

# Lists that name no participant: lots, suppliers and bidders (published with the award),
# the law's findings, a webhook's event types.
PUBLIC_LISTS = frozenset(
    {
        ("TenderPlanned", "lots"),
        ("TenderRestated", "lots"),  # lots retitled (import20)
        ("TenderPlanned", "untitled_lot_ids"),  # lots published without a title (import30)
        ("TenderRestated", "untitled_lot_ids"),  # lots whose title is no longer stated
        ("TenderCancelled", "lot_ids"),
        ("BidsRecorded", "bidder_ids"),
        ("ProvisionalAwardDecided", "supplier_ids"),
        ("ProvisionalAwardRevised", "previous_supplier_ids"),
        ("ProvisionalAwardRevised", "supplier_ids"),
        ("ProvisionalAwardWithdrawn", "supplier_ids"),
        ("AwardMadeDefinitive", "supplier_ids"),
        ("ContractSigned", "lot_ids"),
        ("ContractSigned", "suppliers"),
        ("TenderReleaseImported", "findings"),
        ("ContractReleaseImported", "findings"),
        ("EnrolmentWindowOpened", "lot_ids"),
        ("ParticipantEnrolled", "lot_ids"),
        ("MiniCompetitionStarted", "invited_supplier_ids"),
        ("WebhookSubscribed", "event_types"),
    }
)


def lists_in_the_catalogue() -> set[tuple[str, str]]:
    return {
        (model.event_type, name)
        for model in EVENT_MODELS
        for name, field in model.model_fields.items()
        if typing.get_origin(field.annotation) in (list, tuple, set, frozenset)
    }


def test_every_list_an_event_carries_is_declared() -> None:
    undeclared = lists_in_the_catalogue() - LISTS_OF_PARTICIPANTS - PUBLIC_LISTS
    assert not undeclared, f"declare each as naming participants or as public: {undeclared}"
    assert not LISTS_OF_PARTICIPANTS & PUBLIC_LISTS


def test_an_event_listing_participants_is_hidden_from_participants() -> None:
    assert lists_in_the_catalogue() >= LISTS_OF_PARTICIPANTS  # no stale declaration
    assert {"TenderPublished", "ParticipantListFrozen", "ExpiryWarningRaised"} <= set(
        HIDDEN_FROM_PARTICIPANTS
    )
