"""Freezing the participant list folds to the same state as applying each listed body in turn
(the rule as it was written before the fold built one mapping for the whole list)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts_schema.enrolment.events import Participant, ParticipantListFrozen
from contracts_schema.enrolment.state.enrolment_window import (
    EnrolmentWindowState,
    ParticipantState,
    ParticipantStatus,
    evolve,
)

CODES = [f"GM{n:04d}" for n in range(8)]
LOTS = st.lists(st.sampled_from(["mobile", "devices", "fixed"]), min_size=1, max_size=3)


def _known() -> st.SearchStrategy[ParticipantState]:
    return st.builds(
        ParticipantState,
        organisation_code=st.sampled_from(CODES),
        lot_ids=LOTS.map(tuple),
        power_of_attorney_ref=st.none() | st.just("volmacht"),
        enrolled_on=st.none() | st.just(date(2015, 4, 1)),
        status=st.sampled_from(ParticipantStatus),
        withdrawn_on=st.none() | st.just(date(2015, 4, 9)),
    )


def _one_by_one(state: EnrolmentWindowState, event: ParticipantListFrozen) -> EnrolmentWindowState:
    frozen = replace(state, frozen_on=event.frozen_on)
    for listed in event.participants:
        code, lots = listed.organisation_code, tuple(listed.lot_ids)
        known = state.participants.get(code) or ParticipantState(code, lots)
        on_list = replace(
            known, lot_ids=lots, status=ParticipantStatus.ENROLLED, withdrawn_on=None, frozen=True
        )
        frozen = replace(frozen, participants={**frozen.participants, code: on_list})
    return frozen


@settings(max_examples=150, deadline=None)
@given(
    known=st.lists(_known(), max_size=6),
    listed=st.lists(st.tuples(st.sampled_from(CODES), LOTS), max_size=8),
)
def test_freezing_equals_listing_each_body_in_turn(
    known: list[ParticipantState], listed: list[tuple[str, list[str]]]
) -> None:
    state = EnrolmentWindowState(
        "gt-mc1",
        lot_ids=("mobile", "devices", "fixed"),
        opens_on=date(2015, 3, 1),
        closes_on=date(2015, 5, 15),
        participants={p.organisation_code: p for p in known},
    )
    event = ParticipantListFrozen(
        tender_id="gt-mc1",
        frozen_on=date(2015, 5, 16),
        participants=[Participant(organisation_code=c, lot_ids=lots) for c, lots in listed],
    )
    folded = evolve(state, event)
    expected = _one_by_one(state, event)
    assert folded == expected
    assert list(folded.participants) == list(expected.participants)  # same order too
    assert folded.frozen
    assert all(folded.participants[c].frozen for c, _ in listed)
