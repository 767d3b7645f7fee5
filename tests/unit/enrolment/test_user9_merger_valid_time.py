"""user9: a municipality acts itself until its merger takes effect (pure).

A merger recorded before a late-recorded fact of the merged municipality (Weesp, merged into
Amsterdam on 2022-03-24, its 2020 call-off entered afterwards) refused that fact: the merger
was applied from its recording, not from the day it took effect.
"""

from __future__ import annotations

from datetime import date

import pytest

from contracts_schema.enrolment.commands import AwardCallOff, EnrolParticipant, RenameOrganisation
from contracts_schema.enrolment.events import CallOffAwarded, EnrolmentWindowOpened
from contracts_schema.enrolment.state import EnrolmentWindowState, OrganisationState
from contracts_schema.enrolment.state.call_off import CallOffState
from contracts_schema.enrolment.state.enrolment_window import evolve
from contracts_schema.errors import RuleViolation
from enrolment.domain.call_off import CallOffFacts, Framework, award
from enrolment.domain.enrolment_window import EnrolFacts, enrol
from enrolment.domain.organisation import rename

WEESP, AMSTERDAM, SUPPLIER = "GM0457", "GM0363", "KVK-11112222"
MERGED_ON = date(2022, 3, 24)
FRAMEWORK = Framework(
    contract_id="fw",
    kind="framework",
    tender_id="t",
    suppliers_by_lot={"L1": frozenset({SUPPLIER})},
    start_date=date(2020, 4, 15),
    end_date=date(2027, 9, 30),
)
FACTS = CallOffFacts(
    FRAMEWORK,
    date(2020, 2, 11),
    {WEESP: frozenset({"L1"})},
    frozenset(),
    merged_into=AMSTERDAM,
    merged_on=MERGED_ON,
)


def call_off() -> AwardCallOff:
    return AwardCallOff(
        command_id="c",
        call_off_id="co",
        framework_contract_id="fw",
        lot_id="L1",
        participant_code=WEESP,
        supplier_id=SUPPLIER,
        procedure="direct",
        start_date=date(2020, 6, 1),
        end_date=date(2027, 5, 31),
    )


def test_a_call_off_dated_before_the_merger_is_the_merged_municipalitys_own() -> None:
    [event] = award(CallOffState("co"), call_off(), FACTS, date(2020, 5, 20))
    assert isinstance(event, CallOffAwarded)
    assert event.participant_code == WEESP


@pytest.mark.parametrize("on", [MERGED_ON, date(2023, 1, 1)])
def test_from_the_merger_day_the_successor_calls_off(on: date) -> None:
    with pytest.raises(RuleViolation) as refused:
        award(CallOffState("co"), call_off(), FACTS, on)
    assert refused.value.code == "ORGANISATION_MERGED"
    assert AMSTERDAM in refused.value.message


WEESP_STATE = OrganisationState(
    WEESP, "Weesp", "municipality", "Noord-Holland", successor_code=AMSTERDAM, merged_on=MERGED_ON
)
WINDOW = evolve(
    EnrolmentWindowState(""),
    EnrolmentWindowOpened(
        tender_id="t", lot_ids=["L1"], opens_on=date(2020, 1, 10), closes_on=date(2020, 2, 10)
    ),
)
ENROL = EnrolParticipant(
    command_id="e",
    tender_id="t",
    organisation_code=WEESP,
    lot_ids=["L1"],
    power_of_attorney_ref="p",
)


def test_an_enrolment_dated_before_the_merger_is_accepted() -> None:
    [event] = enrol(WINDOW, ENROL, date(2020, 1, 15), EnrolFacts(WEESP_STATE, None, frozenset()))
    assert event.organisation_code == WEESP  # type: ignore[attr-defined]


def test_an_enrolment_after_the_merger_is_refused() -> None:
    window = evolve(
        EnrolmentWindowState(""),
        EnrolmentWindowOpened(
            tender_id="t", lot_ids=["L1"], opens_on=date(2022, 3, 1), closes_on=date(2022, 4, 1)
        ),
    )
    with pytest.raises(RuleViolation) as refused:
        enrol(window, ENROL, date(2022, 3, 25), EnrolFacts(WEESP_STATE, None, frozenset()))
    assert refused.value.code == "ORGANISATION_MERGED"


def test_a_rename_dated_before_the_merger_is_its_own_and_one_after_is_refused() -> None:
    """review12: the rename took no day, so a name Weesp bore before its merger, recorded
    after it, was refused ORGANISATION_MERGED like one dated after."""
    weesp = OrganisationState(
        WEESP, "Weesp", "municipality", None, (), AMSTERDAM, MERGED_ON,
        date(2000, 1, 1), date(2000, 1, 1), "Weesp",
    )  # fmt: skip
    command = RenameOrganisation(command_id="r", code=WEESP, name="Gemeente Weesp")
    assert [e.name for e in rename(weesp, command, date(2021, 1, 1))] == ["Gemeente Weesp"]
    with pytest.raises(RuleViolation) as refused:
        rename(weesp, command, MERGED_ON)
    assert refused.value.code == "ORGANISATION_MERGED"
