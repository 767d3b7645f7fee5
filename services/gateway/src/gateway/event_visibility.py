"""Events a participant may not read even when they name it.

The event log, its `node(id:)` lookups and the live subscription give a participant the events
that concern its organisation: those whose payload names its code. Some events name it beside
other organisations' private facts: `ParticipantListFrozen` lists every participant of the
tender with its lots, `TenderPublished` the same frozen list (review13), `ExpiryWarningRaised`
every participant of the contract among its recipients; the gateway keeps who participates
from participants on every other path (`tender.participants`, `contract.participants`,
`node(id:)`: finding 6). Such an event is
shown whole to coordinators and auditors and not at all to participants (a payload cut to the
reader's own part would no longer be the signed fact); a participant learns its own part from
its `Participant` (status, lots) and the tender's `participantListFrozenOn`.
"""

from __future__ import annotations

from contracts_schema.enrolment.events import ParticipantListFrozen
from contracts_schema.notifier.events import ExpiryWarningRaised
from contracts_schema.registry.tender_events import TenderPublished

# Every list an event of the catalogue carries that names a tender's or contract's participants
# (event type, field). A new list field is declared here or as public in the test that reads
# the whole catalogue (tests/unit/gateway/test_event_visibility_catalogue.py).
LISTS_OF_PARTICIPANTS: frozenset[tuple[str, str]] = frozenset(
    {
        (ParticipantListFrozen.event_type, "participants"),
        (TenderPublished.event_type, "participant_codes"),
        (ExpiryWarningRaised.event_type, "recipients"),
    }
)
HIDDEN_FROM_PARTICIPANTS: tuple[str, ...] = tuple(sorted({t for t, _ in LISTS_OF_PARTICIPANTS}))
