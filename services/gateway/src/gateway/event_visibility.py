"""Events a participant may not read even when they name it.

The event log, its `node(id:)` lookups and the live subscription give a participant the events
that concern its organisation: those whose payload names its code. Some events name it beside
other organisations' private facts: `ParticipantListFrozen` lists every participant of the
tender with its lots, which the gateway keeps from participants on every other path
(`tender.participants`, `contract.participants`, `node(id:)`: finding 6). Such an event is
shown whole to coordinators and auditors and not at all to participants (a payload cut to the
reader's own part would no longer be the signed fact); a participant learns its own part from
its `Participant` (status, lots) and the tender's `participantListFrozenOn`.
"""

from __future__ import annotations

HIDDEN_FROM_PARTICIPANTS: tuple[str, ...] = ("ParticipantListFrozen",)
