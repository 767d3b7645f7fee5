"""The enrolment window fold's `commute`: two events it says commute fold to equal states in
either order (or both orders are refused), from any state a history of the window reaches.

`eventstore.timeline` relies on it to lay a backdated enrolment over the later states
instead of refolding them (rebuild18).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts_schema.base import DomainEvent
from contracts_schema.enrolment import events as en
from contracts_schema.enrolment.state import enrolment_window
from contracts_schema.errors import FoldError
from contracts_schema.folds import FOLDS

W = "T-1"
CODES = ("GM0363", "GM0599", "GM0344")
DAY = date(2015, 3, 1)


def _day(n: int) -> date:
    return DAY + timedelta(days=n)


_events = st.one_of(
    st.builds(
        lambda n, lots: en.EnrolmentWindowOpened(
            tender_id=W, lot_ids=["L1", "L2"], opens_on=_day(n), closes_on=_day(n + lots)
        ),
        st.integers(0, 5),
        st.integers(1, 9),
    ),
    st.builds(
        lambda n: en.EnrolmentWindowExtended(
            tender_id=W, closes_on=_day(n), previous_closes_on=_day(0)
        ),
        st.integers(0, 20),
    ),
    st.builds(
        lambda code, lots, n: en.ParticipantEnrolled(
            tender_id=W,
            organisation_code=code,
            lot_ids=lots,
            power_of_attorney_ref=f"volmacht-{code}-{n}",
            enrolled_on=_day(n),
        ),
        st.sampled_from(CODES),
        st.sampled_from([["L1"], ["L2"], ["L1", "L2"]]),
        st.integers(0, 20),
    ),
    st.builds(
        lambda code, n: en.ParticipantWithdrawn(
            tender_id=W, organisation_code=code, withdrawn_on=_day(n)
        ),
        st.sampled_from(CODES),
        st.integers(0, 20),
    ),
    st.builds(
        lambda codes, n: en.ParticipantListFrozen(
            tender_id=W,
            frozen_on=_day(n),
            participants=[en.Participant(organisation_code=c, lot_ids=["L1"]) for c in codes],
        ),
        st.lists(st.sampled_from(CODES), unique=True),
        st.integers(0, 20),
    ),
)


def _fold(state: Any, events: list[DomainEvent]) -> Any:
    for event in events:
        try:
            state = enrolment_window.evolve(state, event)
        except FoldError:
            continue  # a history's refused events were parked
    return state


def _both(state: Any, a: DomainEvent, b: DomainEvent) -> Any:
    try:
        return enrolment_window.evolve(enrolment_window.evolve(state, a), b)
    except FoldError:
        return FoldError


@settings(max_examples=400, deadline=None)
@given(st.lists(_events, max_size=8), _events, _events)
def test_events_that_commute_fold_to_one_state_in_either_order(
    prefix: list[DomainEvent], a: DomainEvent, b: DomainEvent
) -> None:
    commute = FOLDS["enrolment", "enrolment_window"].commute
    assert commute is enrolment_window.commute
    if not commute(a, b):
        return
    assert commute(b, a)
    state = _fold(enrolment_window.initial(W), prefix)
    assert _both(state, a, b) == _both(state, b, a)


def test_what_commutes_and_what_does_not() -> None:
    enrol = en.ParticipantEnrolled(
        tender_id=W,
        organisation_code="GM0363",
        lot_ids=["L1"],
        power_of_attorney_ref="v",
        enrolled_on=_day(1),
    )
    other = enrol.model_copy(update={"organisation_code": "GM0599"})
    withdraw = en.ParticipantWithdrawn(
        tender_id=W, organisation_code="GM0363", withdrawn_on=_day(2)
    )
    extend = en.EnrolmentWindowExtended(tender_id=W, closes_on=_day(9), previous_closes_on=_day(5))
    frozen = en.ParticipantListFrozen(tender_id=W, frozen_on=_day(9), participants=[])
    opened = en.EnrolmentWindowOpened(
        tender_id=W, lot_ids=["L1"], opens_on=_day(0), closes_on=_day(5)
    )
    commute = enrolment_window.commute
    assert commute(enrol, other)
    assert commute(enrol, extend)
    assert commute(extend, extend)
    assert commute(withdraw, other)
    assert commute(extend, withdraw)
    assert not commute(enrol, withdraw)
    assert not commute(enrol, enrol)
    assert not commute(enrol, frozen)
    assert not commute(frozen, enrol)
    assert not commute(enrol, opened)
    assert not commute(opened, extend)
