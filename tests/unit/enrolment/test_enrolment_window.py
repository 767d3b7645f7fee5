"""Enrolment windows: open, extend, enrol, withdraw, freeze; second rounds (pure)."""

from __future__ import annotations

from datetime import date, timedelta
from functools import reduce

import pytest

from contracts_schema.base import DomainEvent
from contracts_schema.enrolment.commands import (
    CloseEnrolmentWindow,
    EnrolParticipant,
    ExtendEnrolmentWindow,
    OpenEnrolmentWindow,
    WithdrawParticipant,
)
from contracts_schema.enrolment.events import (
    EnrolmentWindowExtended,
    EnrolmentWindowOpened,
    Participant,
    ParticipantEnrolled,
    ParticipantListFrozen,
    ParticipantWithdrawn,
)
from contracts_schema.enrolment.state import EnrolmentWindowState, OrganisationState
from contracts_schema.enrolment.state.enrolment_window import evolve
from contracts_schema.errors import RuleViolation
from enrolment.domain.enrolment_window import (
    EnrolFacts,
    OpenFacts,
    TenderFacts,
    close,
    enrol,
    extend,
    open_window,
    withdraw,
)

MC1, MC2 = "gt-mc1", "gt-mc2"
OPENED = EnrolmentWindowOpened(
    tender_id=MC1, lot_ids=["mobile"], opens_on=date(2015, 3, 1), closes_on=date(2015, 5, 15)
)
TENDER = TenderFacts(MC1, frozenset({"mobile", "devices"}), None)
AMSTERDAM = OrganisationState("GM0363", "Amsterdam", "municipality", "Noord-Holland")
ROTTERDAM = OrganisationState("GM0599", "Rotterdam", "municipality", "Zuid-Holland")


def given(*events: DomainEvent) -> EnrolmentWindowState:
    return reduce(evolve, events, EnrolmentWindowState(""))


def enrolled(code: str, lots: list[str] | None = None, tender: str = MC1) -> ParticipantEnrolled:
    return ParticipantEnrolled(
        tender_id=tender,
        organisation_code=code,
        lot_ids=lots or ["mobile"],
        power_of_attorney_ref=f"volmacht-{code}",
        enrolled_on=date(2015, 4, 1),
    )


def frozen(*codes: str, tender: str = MC1) -> ParticipantListFrozen:
    return ParticipantListFrozen(
        tender_id=tender,
        frozen_on=date(2015, 5, 31),
        participants=[Participant(organisation_code=c, lot_ids=["mobile"]) for c in codes],
    )


def opening(**changes: object) -> OpenEnrolmentWindow:
    fields: dict[str, object] = {
        "command_id": "o",
        "tender_id": MC1,
        "lot_ids": ["mobile"],
        "opens_on": date(2015, 3, 1),
        "closes_on": date(2015, 5, 15),
    }
    return OpenEnrolmentWindow.model_validate({**fields, **changes})


def enrolment(
    code: str = "GM0363", lots: list[str] | None = None, tender: str = MC1
) -> EnrolParticipant:
    return EnrolParticipant(
        command_id="e",
        tender_id=tender,
        organisation_code=code,
        lot_ids=lots or ["mobile"],
        power_of_attorney_ref="volmacht-2015-017",
    )


def facts(
    org: OrganisationState = AMSTERDAM,
    previous: EnrolmentWindowState | None = None,
    predecessors: frozenset[str] = frozenset(),
) -> EnrolFacts:
    return EnrolFacts(org, previous, predecessors)


def refused(call: object, *args: object) -> RuleViolation:
    with pytest.raises(RuleViolation) as caught:
        call(*args)  # type: ignore[operator]
    return caught.value


# Opening


def test_window_opens_for_lots_of_a_planned_tender() -> None:
    assert open_window(EnrolmentWindowState(""), opening(), OpenFacts(TENDER, None)) == [OPENED]


@pytest.mark.parametrize(
    ("command", "open_facts", "code"),
    [
        (opening(), OpenFacts(None, None), "TENDER_NOT_PLANNED"),
        (
            opening(),
            OpenFacts(TenderFacts(MC1, frozenset({"mobile"}), date(2015, 6, 1)), None),
            "TENDER_ALREADY_PUBLISHED",
        ),
        (opening(lot_ids=["fixed"]), OpenFacts(TENDER, None), "LOT_NOT_IN_TENDER"),
        (opening(closes_on=date(2015, 2, 1)), OpenFacts(TENDER, None), "INVALID_ENROLMENT_PERIOD"),
        (
            opening(previous_round_tender_id="gt-mc0"),
            OpenFacts(TENDER, EnrolmentWindowState("")),
            "PREVIOUS_ROUND_UNKNOWN",
        ),
        (
            opening(previous_round_tender_id="gt-mc0"),
            OpenFacts(TENDER, given(OPENED)),
            "PREVIOUS_ROUND_NOT_CLOSED",
        ),
    ],
)
def test_opening_rules(command: OpenEnrolmentWindow, open_facts: OpenFacts, code: str) -> None:
    assert refused(open_window, EnrolmentWindowState(""), command, open_facts).code == code


def test_a_second_window_for_a_tender_is_refused_but_the_same_opening_is_a_no_op() -> None:
    assert open_window(given(OPENED), opening(), OpenFacts(TENDER, None)) == []
    violation = refused(
        open_window, given(OPENED), opening(opens_on=date(2015, 4, 1)), OpenFacts(TENDER, None)
    )
    assert violation.code == "ENROLMENT_WINDOW_ALREADY_OPENED"


# Extending


def test_extension_moves_the_deadline_later() -> None:
    [event] = extend(
        given(OPENED),
        ExtendEnrolmentWindow(command_id="x", tender_id=MC1, closes_on=date(2015, 5, 29)),
    )
    assert event == EnrolmentWindowExtended(
        tender_id=MC1, closes_on=date(2015, 5, 29), previous_closes_on=date(2015, 5, 15)
    )


def test_extension_to_an_earlier_day_is_refused() -> None:
    command = ExtendEnrolmentWindow(command_id="x", tender_id=MC1, closes_on=date(2015, 5, 1))
    assert refused(extend, given(OPENED), command).code == "EXTENSION_NOT_LATER"


def test_extension_after_the_freeze_is_refused() -> None:
    command = ExtendEnrolmentWindow(command_id="x", tender_id=MC1, closes_on=date(2015, 6, 30))
    assert (
        refused(extend, given(OPENED, enrolled("GM0363"), frozen("GM0363")), command).code
        == "ENROLMENT_CLOSED"
    )


# Enrolling and withdrawing


def test_body_enrols_with_its_power_of_attorney() -> None:
    [event] = enrol(given(OPENED), enrolment(), date(2015, 4, 1), facts())
    assert event == ParticipantEnrolled(
        tender_id=MC1,
        organisation_code="GM0363",
        lot_ids=["mobile"],
        power_of_attorney_ref="volmacht-2015-017",
        enrolled_on=date(2015, 4, 1),
    )
    assert enrol(given(OPENED, event), enrolment(), date(2015, 4, 2), facts()) == []


def test_enrolment_after_the_freeze_names_the_eu_rule_and_the_freeze_date() -> None:
    # Even a body enrolling "on time" by its own date: after the freeze, never.
    state = given(OPENED, enrolled("GM0599"), frozen("GM0599"))
    violation = refused(enrol, state, enrolment(), date(2015, 4, 1), facts())
    assert violation.code == "ENROLMENT_CLOSED"
    assert "Directive 2014/24/EU art. 33(2)" in violation.message
    assert "frozen on 2015-05-31" in violation.message


@pytest.mark.parametrize(
    ("state", "command", "on", "enrol_facts", "code"),
    [
        (
            EnrolmentWindowState(""),
            enrolment(),
            date(2015, 4, 1),
            facts(),
            "ENROLMENT_WINDOW_NOT_OPENED",
        ),
        (given(OPENED), enrolment(), date(2015, 2, 1), facts(), "ENROLMENT_NOT_YET_OPEN"),
        (given(OPENED), enrolment(), date(2015, 5, 16), facts(), "ENROLMENT_DEADLINE_PASSED"),
        (
            given(OPENED),
            enrolment(),
            date(2015, 4, 1),
            facts(OrganisationState("")),
            "ORGANISATION_UNKNOWN",
        ),
        (
            given(OPENED),
            enrolment(),
            date(2015, 4, 1),
            facts(
                OrganisationState(
                    "GM0363",
                    "A",
                    "municipality",
                    successor_code="GM0362",
                    merged_on=date(2015, 1, 1),
                )
            ),
            "ORGANISATION_MERGED",
        ),
        (
            given(OPENED),
            enrolment("KVK-27364819"),
            date(2015, 4, 1),
            facts(OrganisationState("KVK-27364819", "Vodafone", "supplier")),
            "SUPPLIER_CANNOT_ENROL",
        ),
        (
            given(OPENED),
            enrolment(lots=["devices"]),
            date(2015, 4, 1),
            facts(),
            "LOT_NOT_IN_WINDOW",
        ),
    ],
)
def test_enrolment_rules(
    state: EnrolmentWindowState,
    command: EnrolParticipant,
    on: date,
    enrol_facts: EnrolFacts,
    code: str,
) -> None:
    assert refused(enrol, state, command, on, enrol_facts).code == code


def test_extension_admits_enrolments_until_the_new_deadline() -> None:
    state = given(
        OPENED,
        EnrolmentWindowExtended(
            tender_id=MC1, closes_on=date(2015, 5, 29), previous_closes_on=date(2015, 5, 15)
        ),
    )
    assert len(enrol(state, enrolment(), date(2015, 5, 20), facts())) == 1


def test_withdrawal_while_open_removes_the_participant_from_the_list() -> None:
    state = given(OPENED, enrolled("GM0363"), enrolled("GM0599"))
    [event] = withdraw(
        state,
        WithdrawParticipant(command_id="w", tender_id=MC1, organisation_code="GM0363"),
        date(2015, 5, 1),
    )
    assert event == ParticipantWithdrawn(
        tender_id=MC1, organisation_code="GM0363", withdrawn_on=date(2015, 5, 1)
    )
    [list_event] = close(
        given(OPENED, enrolled("GM0363"), enrolled("GM0599"), event),
        CloseEnrolmentWindow(command_id="c", tender_id=MC1),
        date(2015, 5, 31),
    )
    assert isinstance(list_event, ParticipantListFrozen)
    assert [p.organisation_code for p in list_event.participants] == ["GM0599"]


def test_withdrawal_rules() -> None:
    command = WithdrawParticipant(command_id="w", tender_id=MC1, organisation_code="GM0363")
    assert refused(withdraw, given(OPENED), command, date(2015, 5, 1)).code == "NOT_ENROLLED"
    state = given(OPENED, enrolled("GM0363"), frozen("GM0363"))
    assert refused(withdraw, state, command, date(2015, 6, 1)).code == "ENROLMENT_CLOSED"


def test_a_withdrawal_cannot_be_dated_before_the_enrolment_it_ends() -> None:
    # Valid time: withdrawn before enrolled would make the body absent on days it took part.
    state = given(OPENED, enrolled("GM0363"))
    enrolled_on = state.participants["GM0363"].enrolled_on
    assert enrolled_on is not None
    command = WithdrawParticipant(command_id="w", tender_id=MC1, organisation_code="GM0363")
    earlier = enrolled_on - timedelta(days=1)
    rejection = refused(withdraw, state, command, earlier)
    assert rejection.code == "WITHDRAWAL_BEFORE_ENROLMENT"
    assert str(enrolled_on) in rejection.message
    assert withdraw(state, command, enrolled_on)  # the same day is fine


# Closing


def test_closing_freezes_the_participant_list_with_lots() -> None:
    state = given(OPENED, enrolled("GM0599"), enrolled("GM0363"))
    [event] = close(state, CloseEnrolmentWindow(command_id="c", tender_id=MC1), date(2015, 5, 31))
    assert event == frozen("GM0363", "GM0599")


@pytest.mark.parametrize(
    ("state", "on", "code"),
    [
        (EnrolmentWindowState(""), date(2015, 5, 31), "ENROLMENT_WINDOW_NOT_OPENED"),
        (given(OPENED), date(2015, 5, 31), "NO_PARTICIPANTS"),
        (given(OPENED, enrolled("GM0363")), date(2015, 2, 1), "INVALID_ENROLMENT_PERIOD"),
        (
            given(OPENED, enrolled("GM0363"), frozen("GM0363")),
            date(2015, 6, 1),
            "ENROLMENT_ALREADY_CLOSED",
        ),
    ],
)
def test_closing_rules(state: EnrolmentWindowState, on: date, code: str) -> None:
    assert (
        refused(close, state, CloseEnrolmentWindow(command_id="c", tender_id=MC1), on).code == code
    )


# Second round


ROUND_ONE = given(OPENED, enrolled("GM0599"), frozen("GM0599"))
ROUND_TWO = given(
    EnrolmentWindowOpened(
        tender_id=MC2,
        lot_ids=["mobile"],
        opens_on=date(2015, 9, 1),
        closes_on=date(2015, 10, 1),
        previous_round_tender_id=MC1,
    )
)


def test_a_late_body_enrols_in_the_second_round() -> None:
    [event] = enrol(ROUND_TWO, enrolment(tender=MC2), date(2015, 9, 10), facts(previous=ROUND_ONE))
    assert isinstance(event, ParticipantEnrolled)


def test_a_first_round_participant_may_not_enrol_again_for_the_same_lots() -> None:
    violation = refused(
        enrol,
        ROUND_TWO,
        enrolment("GM0599", tender=MC2),
        date(2015, 9, 10),
        facts(ROTTERDAM, ROUND_ONE),
    )
    assert violation.code == "ALREADY_PARTICIPANT_IN_PREVIOUS_ROUND"


def test_a_successor_inherits_first_round_participation_of_a_merged_municipality() -> None:
    violation = refused(
        enrol,
        ROUND_TWO,
        enrolment(tender=MC2),
        date(2015, 9, 10),
        facts(previous=ROUND_ONE, predecessors=frozenset({"GM0599"})),
    )
    assert violation.code == "ALREADY_PARTICIPANT_IN_PREVIOUS_ROUND"
    assert "through GM0599" in violation.message
