"""Call-offs under a framework: participants, suppliers, framework period (pure)."""

from __future__ import annotations

from datetime import date
from functools import reduce

import pytest

from contracts_schema.base import DomainEvent
from contracts_schema.enrolment.commands import AwardCallOff, StartMiniCompetition
from contracts_schema.enrolment.events import CallOffAwarded, MiniCompetitionStarted
from contracts_schema.enrolment.state.call_off import CallOffState, evolve
from contracts_schema.errors import RuleViolation
from enrolment.domain.call_off import (
    CallOffFacts,
    Framework,
    award,
    start_mini_competition,
)

KPN, TELE2, TMOBILE, VODAFONE = "KVK-02045200", "KVK-33272606", "KVK-14052264", "KVK-14052240"
FRAMEWORK = Framework(
    contract_id="gt-mc1-framework",
    kind="framework",
    tender_id="gt-mc1",
    suppliers_by_lot={
        "mobile": frozenset({KPN, TELE2, TMOBILE, VODAFONE}),
        "devices": frozenset({KPN}),
    },
    start_date=date(2016, 1, 15),
    end_date=date(2019, 1, 14),
)
FACTS = CallOffFacts(FRAMEWORK, date(2015, 5, 31), {"GM0363": frozenset({"mobile"})}, frozenset())


def given(*events: DomainEvent) -> CallOffState:
    return reduce(evolve, events, CallOffState("ams-mobile"))


def competition(**changes: object) -> StartMiniCompetition:
    fields: dict[str, object] = {
        "command_id": "s",
        "call_off_id": "ams-mobile",
        "framework_contract_id": "gt-mc1-framework",
        "lot_id": "mobile",
        "participant_code": "GM0363",
        "invited_supplier_ids": [KPN, TELE2, TMOBILE, VODAFONE],
        "started_on": date(2016, 1, 20),
    }
    return StartMiniCompetition.model_validate({**fields, **changes})


def awarding(**changes: object) -> AwardCallOff:
    fields: dict[str, object] = {
        "command_id": "a",
        "call_off_id": "ams-mobile",
        "framework_contract_id": "gt-mc1-framework",
        "lot_id": "mobile",
        "participant_code": "GM0363",
        "supplier_id": VODAFONE,
        "procedure": "mini_competition",
        "awarded_on": date(2016, 2, 15),
        "start_date": date(2016, 3, 1),
        "end_date": date(2020, 2, 29),
        "value_eur": 1_200_000,
    }
    return AwardCallOff.model_validate({**fields, **changes})


STARTED = start_mini_competition(CallOffState("ams-mobile"), competition(), FACTS)[0]


def refused(call: object, *args: object) -> RuleViolation:
    with pytest.raises(RuleViolation) as caught:
        call(*args)  # type: ignore[operator]
    return caught.value


def test_mini_competition_then_award_to_vodafone_running_past_the_framework_end() -> None:
    assert isinstance(STARTED, MiniCompetitionStarted)
    assert STARTED.tender_id == "gt-mc1"
    [event] = award(given(STARTED), awarding(), FACTS)
    assert isinstance(event, CallOffAwarded)
    assert (event.supplier_id, event.procedure, event.end_date) == (
        VODAFONE,
        "mini_competition",
        date(2020, 2, 29),
    )
    assert event.end_date > FRAMEWORK.end_date  # a call-off's own end may pass the framework's


def test_no_standstill_applies_to_a_call_off() -> None:
    # Awarded the same day the mini-competition started: no standstill wait for call-offs.
    [event] = award(given(STARTED), awarding(awarded_on=date(2016, 1, 20)), FACTS)
    assert isinstance(event, CallOffAwarded)
    assert event.standstill_exempt is True


def test_direct_award_needs_no_competition() -> None:
    [event] = award(
        CallOffState("ams-mobile"),
        awarding(procedure="direct", lot_id="devices", supplier_id=KPN),
        CallOffFacts(FRAMEWORK, FACTS.frozen_on, {"GM0363": frozenset({"devices"})}, frozenset()),
    )
    assert isinstance(event, CallOffAwarded)


def test_call_off_by_a_non_participant_is_refused() -> None:
    violation = refused(
        award,
        CallOffState("ams-mobile"),
        awarding(procedure="direct", participant_code="GM0599"),
        FACTS,
    )
    assert violation.code == "NOT_A_PARTICIPANT"
    assert "art. 33(2)" in violation.message


def test_call_off_for_a_lot_the_participant_did_not_enrol_for_is_refused() -> None:
    violation = refused(
        award,
        CallOffState("ams-mobile"),
        awarding(procedure="direct", lot_id="devices", supplier_id=KPN),
        FACTS,
    )
    assert violation.code == "NOT_A_PARTICIPANT"


def test_successor_of_a_merged_participant_may_call_off() -> None:
    facts = CallOffFacts(
        FRAMEWORK, FACTS.frozen_on, {"GM0175": frozenset({"mobile"})}, frozenset({"GM0175"})
    )
    [event] = award(
        CallOffState("ams-mobile"), awarding(procedure="direct", participant_code="GM1896"), facts
    )
    assert isinstance(event, CallOffAwarded)


def test_a_merged_municipality_no_longer_calls_off_itself() -> None:
    facts = CallOffFacts(
        FRAMEWORK, FACTS.frozen_on, FACTS.participants, frozenset(), merged_into="GM0362"
    )
    violation = refused(award, CallOffState("ams-mobile"), awarding(procedure="direct"), facts)
    assert violation.code == "ORGANISATION_MERGED"
    assert "GM0362" in violation.message


def test_supplier_outside_the_framework_lot_is_refused() -> None:
    violation = refused(
        award,
        CallOffState("ams-mobile"),
        awarding(procedure="direct", supplier_id="KVK-99999999"),
        FACTS,
    )
    assert violation.code == "SUPPLIER_NOT_ON_FRAMEWORK_LOT"
    violation = refused(
        start_mini_competition,
        CallOffState("ams-mobile"),
        competition(invited_supplier_ids=[KPN, "KVK-99999999"]),
        FACTS,
    )
    assert violation.code == "SUPPLIER_NOT_ON_FRAMEWORK_LOT"


@pytest.mark.parametrize(
    ("awarded_on", "framework", "code"),
    [
        (date(2019, 1, 15), FRAMEWORK, "FRAMEWORK_ENDED"),
        (date(2016, 1, 1), FRAMEWORK, "FRAMEWORK_NOT_STARTED"),
        (
            date(2017, 6, 1),
            Framework(**{**FRAMEWORK.__dict__, "terminated_on": date(2017, 1, 1)}),
            "FRAMEWORK_TERMINATED",
        ),
    ],
)
def test_call_off_outside_the_framework_period_is_refused(
    awarded_on: date, framework: Framework, code: str
) -> None:
    facts = CallOffFacts(framework, FACTS.frozen_on, FACTS.participants, frozenset())
    violation = refused(
        award,
        CallOffState("ams-mobile"),
        awarding(procedure="direct", awarded_on=awarded_on),
        facts,
    )
    assert violation.code == code


@pytest.mark.parametrize(
    ("facts", "command", "code"),
    [
        (
            CallOffFacts(None, None, {}, frozenset()),
            awarding(procedure="direct"),
            "FRAMEWORK_NOT_FOUND",
        ),
        (
            CallOffFacts(
                Framework(**{**FRAMEWORK.__dict__, "kind": "contract"}), None, {}, frozenset()
            ),
            awarding(procedure="direct"),
            "NOT_A_FRAMEWORK",
        ),
        (FACTS, awarding(procedure="direct", lot_id="fixed"), "LOT_NOT_IN_FRAMEWORK"),
        (
            CallOffFacts(FRAMEWORK, None, {}, frozenset()),
            awarding(procedure="direct"),
            "NOT_A_PARTICIPANT",
        ),
        (FACTS, awarding(procedure="direct", end_date=date(2016, 1, 1)), "INVALID_CALL_OFF_PERIOD"),
        (FACTS, awarding(), "MINI_COMPETITION_NOT_HELD"),
    ],
)
def test_award_rules(facts: CallOffFacts, command: AwardCallOff, code: str) -> None:
    assert refused(award, CallOffState("ams-mobile"), command, facts).code == code


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (awarding(procedure="direct"), "MINI_COMPETITION_HELD"),
        (awarding(supplier_id=KPN, lot_id="fixed"), "MINI_COMPETITION_MISMATCH"),
        # Another participant's: refused naming nothing of it (attack10).
        (awarding(supplier_id=KPN, participant_code="GM0599"), "CALL_OFF_ALREADY_STARTED"),
        (awarding(awarded_on=date(2016, 1, 16)), "AWARD_BEFORE_MINI_COMPETITION"),
    ],
)
def test_award_after_a_mini_competition_rules(command: AwardCallOff, code: str) -> None:
    assert refused(award, given(STARTED), command, FACTS).code == code


def test_award_to_a_supplier_not_invited_is_refused() -> None:
    started = start_mini_competition(
        CallOffState("ams-mobile"), competition(invited_supplier_ids=[KPN, TELE2]), FACTS
    )[0]
    assert refused(award, given(started), awarding(), FACTS).code == "SUPPLIER_NOT_INVITED"


def test_a_call_off_is_awarded_once() -> None:
    awarded = award(given(STARTED), awarding(), FACTS)[0]
    assert (
        refused(award, given(STARTED, awarded), awarding(supplier_id=KPN), FACTS).code
        == "CALL_OFF_ALREADY_AWARDED"
    )
    assert (
        refused(start_mini_competition, given(STARTED), competition(), FACTS).code
        == "CALL_OFF_ALREADY_STARTED"
    )


def test_a_call_off_id_the_registry_uses_for_a_contract_is_refused() -> None:
    # A concluded call-off is a contract under its call-off id: one id space for both.
    taken = CallOffFacts(
        FRAMEWORK, FACTS.frozen_on, FACTS.participants, frozenset(), contract_id_taken=True
    )
    direct = awarding(procedure="direct")
    assert refused(award, CallOffState("ams-mobile"), direct, taken).code == "CONTRACT_ID_TAKEN"
    assert (
        refused(start_mini_competition, CallOffState("ams-mobile"), competition(), taken).code
        == "CONTRACT_ID_TAKEN"
    )
