"""What enrolment events mean, as every read model sees them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import reduce

import pytest

from contracts_schema.enrolment import events as en
from contracts_schema.enrolment.state import (
    ParticipantStatus,
    call_off,
    enrolment_window,
    organisation,
)
from contracts_schema.errors import FoldError
from tests.unit.folds.histories import CALL_OFF, ENROLMENT_WINDOW, ORGANISATION, W


def test_a_withdrawn_participant_stays_on_record_and_off_the_frozen_list() -> None:
    state = reduce(enrolment_window.evolve, ENROLMENT_WINDOW, enrolment_window.initial(W))
    assert state.closes_on == date(2015, 5, 29)
    assert state.frozen_on == date(2015, 5, 31)
    amsterdam, rotterdam = state.participants["GM0363"], state.participants["GM0599"]
    assert (amsterdam.status, amsterdam.frozen, amsterdam.power_of_attorney_ref) == (
        ParticipantStatus.ENROLLED,
        True,
        "volmacht-GM0363",
    )
    assert (rotterdam.status, rotterdam.withdrawn_on, rotterdam.frozen) == (
        ParticipantStatus.WITHDRAWN,
        date(2015, 5, 1),
        False,
    )
    assert state.enrolled == {"GM0363": frozenset({"mobile"})}


def test_withdrawing_a_body_that_is_not_enrolled_is_an_error() -> None:
    opened = enrolment_window.evolve(enrolment_window.initial(W), ENROLMENT_WINDOW[0])
    withdrawn = en.ParticipantWithdrawn(
        tender_id=W, organisation_code="GM0363", withdrawn_on=date(2015, 4, 1)
    )
    with pytest.raises(FoldError, match="GM0363 is not enrolled"):
        enrolment_window.evolve(opened, withdrawn)


def test_an_organisation_keeps_its_names_and_merger() -> None:
    state = reduce(organisation.evolve, ORGANISATION, organisation.initial("GM0193"))
    assert (state.name, state.previous_names) == ("Swol", ("Zwolle",))
    assert (state.successor_code, state.merged_on) == ("GM1896", date(2019, 1, 1))
    with pytest.raises(FoldError, match="OrganisationRenamed cannot apply to organisation GM0"):
        organisation.evolve(organisation.initial("GM0000"), ORGANISATION[1])


def test_a_call_off_keeps_its_competition_and_award() -> None:
    state = reduce(call_off.evolve, CALL_OFF, call_off.initial("ams-mobile"))
    assert state.competition_started_on == date(2016, 1, 20)
    assert len(state.invited_supplier_ids) == 2
    assert (state.procedure, state.value_eur) == ("mini_competition", Decimal("1200000"))
    with pytest.raises(FoldError, match="already awarded on 2016-02-15"):
        call_off.evolve(state, CALL_OFF[1])


def test_the_frozen_list_is_the_final_word_and_is_frozen_once() -> None:
    opened = enrolment_window.evolve(enrolment_window.initial(W), ENROLMENT_WINDOW[0])
    frozen_list = en.ParticipantListFrozen(
        tender_id=W,
        frozen_on=date(2015, 5, 31),
        participants=[en.Participant(organisation_code="GM0363", lot_ids=["mobile"])],
    )
    state = enrolment_window.evolve(opened, frozen_list)
    assert state.enrolled == {"GM0363": frozenset({"mobile"})}
    assert state.participants["GM0363"].enrolled_on is None  # known only from the list
    with pytest.raises(FoldError, match="already frozen on 2015-05-31"):
        enrolment_window.evolve(state, frozen_list)
