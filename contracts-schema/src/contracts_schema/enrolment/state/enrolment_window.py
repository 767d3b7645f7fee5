"""The enrolment window of a joint tender (id = the tender id) as the enrolment service folds it.

Directive 2014/24/EU art. 33(2): freezing the participant list closes the window for good.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from math import isqrt

from contracts_schema.base import DomainEvent
from contracts_schema.enrolment.events import (
    EnrolmentWindowExtended,
    EnrolmentWindowOpened,
    ParticipantEnrolled,
    ParticipantListFrozen,
    ParticipantWithdrawn,
)
from contracts_schema.errors import FoldError
from contracts_schema.frozen import replace


class ParticipantStatus(StrEnum):
    ENROLLED = "enrolled"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class ParticipantState:
    organisation_code: str
    lot_ids: tuple[str, ...]
    power_of_attorney_ref: str | None = None  # None: known only from the frozen list
    enrolled_on: date | None = None
    status: ParticipantStatus = ParticipantStatus.ENROLLED
    withdrawn_on: date | None = None
    frozen: bool = False  # on the frozen participant list


class Participants(Mapping[str, ParticipantState]):
    """A window's participants by code: an immutable mapping that one more participant
    extends without copying the others (each enrolment folds a new window state; a dict
    copied per enrolment made a window of n bodies cost n^2).

    A shared base dict, never changed once made, and the few changes since it in a small
    dict of their own; when those outgrow about the square root of the base, both are
    merged into a new base. Iterates in the order a dict updated one body at a time would
    (a body keeps its first place), and equals any mapping of the same items.
    """

    __slots__ = ("_base", "_len", "_top")

    def __init__(self, items: Mapping[str, ParticipantState] | None = None) -> None:
        self._base: dict[str, ParticipantState] = dict(items or {})
        self._top: dict[str, ParticipantState] = {}
        self._len = len(self._base)

    def set(self, participant: ParticipantState) -> Participants:
        """These participants with `participant` (by its code) added or replaced."""
        code, base = participant.organisation_code, self._base
        top = {**self._top, code: participant}
        new: Participants = object.__new__(Participants)
        if len(top) > 4 + isqrt(len(base)):
            new._base, new._top, new._len = {**base, **top}, {}, 0
            new._len = len(new._base)
            return new
        new._base, new._top = base, top
        new._len = self._len + (code not in base and code not in self._top)
        return new

    def __getitem__(self, code: str) -> ParticipantState:
        top = self._top
        if code in top:
            return top[code]
        return self._base[code]

    def get(self, code: str, default: ParticipantState | None = None) -> ParticipantState | None:  # type: ignore[override]
        found = self._top.get(code)
        return found if found is not None else self._base.get(code, default)

    def __contains__(self, code: object) -> bool:
        return code in self._top or code in self._base

    def __iter__(self) -> Iterator[str]:
        base, top = self._base, self._top
        yield from base
        if top:
            yield from (code for code in top if code not in base)

    def __len__(self) -> int:
        return self._len

    def __repr__(self) -> str:
        return f"Participants({dict(self.items())!r})"


@dataclass(frozen=True)
class EnrolmentWindowState:
    tender_id: str
    lot_ids: tuple[str, ...] = ()
    opens_on: date | None = None
    closes_on: date | None = None
    previous_round_tender_id: str | None = None
    participants: Mapping[str, ParticipantState] = field(default_factory=dict)  # by code
    frozen_on: date | None = None

    @property
    def opened(self) -> bool:
        return self.opens_on is not None

    @property
    def frozen(self) -> bool:
        return self.frozen_on is not None

    @property
    def enrolled(self) -> Mapping[str, frozenset[str]]:
        """Enrolled bodies and their lots; once frozen, exactly the frozen list."""
        return {
            code: frozenset(p.lot_ids)
            for code, p in self.participants.items()
            if p.status is ParticipantStatus.ENROLLED and (p.frozen or not self.frozen)
        }


def initial(tender_id: str) -> EnrolmentWindowState:
    return EnrolmentWindowState(tender_id=tender_id)


HANDLED: frozenset[type[DomainEvent]] = frozenset(
    {
        EnrolmentWindowOpened,
        EnrolmentWindowExtended,
        ParticipantEnrolled,
        ParticipantWithdrawn,
        ParticipantListFrozen,
    }
)
IGNORED: frozenset[type[DomainEvent]] = frozenset()


def evolve(state: EnrolmentWindowState, event: DomainEvent) -> EnrolmentWindowState:
    if isinstance(event, EnrolmentWindowOpened):
        if state.opened:
            raise _error(state, event, "the window was already opened")
        # Folded by day, facts of the window's own period (from opens_on) may come before the
        # day its opening was recorded as valid (a window of 2015 opened "now"): they stand,
        # and the window, with them, exists from the opening on (`opened`).
        closes_on = max(event.closes_on, state.closes_on or event.closes_on)
        return replace(
            state,
            tender_id=event.tender_id,
            lot_ids=tuple(event.lot_ids),
            opens_on=event.opens_on,
            closes_on=closes_on,
            previous_round_tender_id=event.previous_round_tender_id,
        )
    if type(event) in IGNORED:
        return state
    match event:
        case EnrolmentWindowExtended():
            # An extension only moves the deadline later: the latest deadline holds, in
            # whichever order extensions dated out of order are folded (by day or recorded).
            latest = max(event.closes_on, state.closes_on or event.closes_on)
            return replace(state, closes_on=latest)
        case ParticipantEnrolled():
            # The latest enrolment of a body wins, also after a withdrawal.
            participant = ParticipantState(
                event.organisation_code,
                tuple(event.lot_ids),
                event.power_of_attorney_ref,
                event.enrolled_on,
            )
            return _with(state, participant)
        case ParticipantWithdrawn():
            enrolled = state.participants.get(event.organisation_code)
            if enrolled is None or enrolled.status is not ParticipantStatus.ENROLLED:
                raise _error(state, event, f"{event.organisation_code} is not enrolled")
            withdrawn = replace(
                enrolled, status=ParticipantStatus.WITHDRAWN, withdrawn_on=event.withdrawn_on
            )
            return _with(state, withdrawn)
        case ParticipantListFrozen():
            if state.frozen:
                raise _error(state, event, f"its list was already frozen on {state.frozen_on}")
            # The frozen list is the final word on who takes part, with which lots. One new
            # mapping for the whole list (not one per listed body: that was quadratic).
            participants = dict(state.participants)
            for listed in event.participants:
                code, lots = listed.organisation_code, tuple(listed.lot_ids)
                known = state.participants.get(code) or ParticipantState(code, lots)
                participants[code] = replace(
                    known,
                    lot_ids=lots,
                    status=ParticipantStatus.ENROLLED,
                    withdrawn_on=None,
                    frozen=True,
                )
            return replace(
                state, frozen_on=event.frozen_on, participants=Participants(participants)
            )
    raise _error(state, event, "it is not an event of the enrolment window aggregate")


_PARTICIPANT_EVENTS = (ParticipantEnrolled, ParticipantWithdrawn)


def commute(a: DomainEvent, b: DomainEvent) -> bool:
    """Whether folding `a` then `b` gives the state folding `b` then `a` gives (equal states;
    the participants' mapping may list them in another order): enrolments and withdrawals of
    different bodies, and deadline extensions (the latest deadline holds), in any mix. Not
    the opening, not the frozen list (it changes every participant), not two events of one
    body (the later enrolment wins; a withdrawal needs the enrolment before it)."""
    if isinstance(a, _PARTICIPANT_EVENTS):
        if isinstance(b, _PARTICIPANT_EVENTS):
            return a.organisation_code != b.organisation_code
        return isinstance(b, EnrolmentWindowExtended)
    if isinstance(a, EnrolmentWindowExtended):
        return isinstance(b, (*_PARTICIPANT_EVENTS, EnrolmentWindowExtended))
    return False


def _with(state: EnrolmentWindowState, participant: ParticipantState) -> EnrolmentWindowState:
    participants = state.participants
    if not isinstance(participants, Participants):
        participants = Participants(participants)
    return replace(state, participants=participants.set(participant))


def _error(state: EnrolmentWindowState, event: DomainEvent, why: str) -> FoldError:
    return FoldError(
        f"{event.event_type} cannot apply to the enrolment window of tender {state.tender_id}:"
        f" {why}"
    )
