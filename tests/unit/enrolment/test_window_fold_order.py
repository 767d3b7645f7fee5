"""The window's fold means the same in the order recorded and in the order by day.

A window of 2015 opened today: its enrolments, extensions and freeze are dated before the
opening's valid day, so every view meets them first. The fold keeps them (it used to refuse
them: parked), and the state after all of them is the owner's.
"""

from __future__ import annotations

from datetime import date
from functools import reduce

from contracts_schema.base import DomainEvent
from contracts_schema.enrolment.events import (
    EnrolmentWindowExtended,
    EnrolmentWindowOpened,
    Participant,
    ParticipantEnrolled,
    ParticipantListFrozen,
    ParticipantWithdrawn,
)
from contracts_schema.enrolment.state import enrolment_window
from contracts_schema.enrolment.state.enrolment_window import EnrolmentWindowState

OPENED = EnrolmentWindowOpened(
    tender_id="t", lot_ids=["a", "b"], opens_on=date(2015, 2, 1), closes_on=date(2015, 4, 30)
)
LATER = (
    ParticipantEnrolled(tender_id="t", organisation_code="GM0363", lot_ids=["a"],
                        power_of_attorney_ref="v", enrolled_on=date(2015, 3, 1)),
    ParticipantEnrolled(tender_id="t", organisation_code="GM0599", lot_ids=["b"],
                        power_of_attorney_ref="v", enrolled_on=date(2015, 3, 2)),
    EnrolmentWindowExtended(tender_id="t", closes_on=date(2015, 5, 31),
                            previous_closes_on=date(2015, 4, 30)),
    ParticipantWithdrawn(tender_id="t", organisation_code="GM0599", withdrawn_on=date(2015, 4, 2)),
    ParticipantListFrozen(tender_id="t", frozen_on=date(2015, 6, 1), participants=[
        Participant(organisation_code="GM0363", lot_ids=["a"])]),
)  # fmt: skip


def fold(events: tuple[DomainEvent, ...]) -> EnrolmentWindowState:
    return reduce(enrolment_window.evolve, events, enrolment_window.initial("t"))


def test_facts_of_the_windows_period_before_its_opening_mean_the_same() -> None:
    recorded = fold((OPENED, *LATER))
    for at in range(len(LATER) + 1):  # the opening's valid day after `at` of them
        by_day = fold((*LATER[:at], OPENED, *LATER[at:]))
        assert by_day == recorded, at
    assert recorded.closes_on == date(2015, 5, 31)
    assert dict(recorded.enrolled) == {"GM0363": frozenset({"a"})}


def test_before_its_opening_the_window_is_not_opened() -> None:
    assert not fold(LATER[:2]).opened
    assert fold((*LATER[:2], OPENED)).opened
