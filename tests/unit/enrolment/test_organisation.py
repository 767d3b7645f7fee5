"""Organisations: codes, registration, renames and municipal mergers (pure)."""

from __future__ import annotations

from datetime import date
from functools import reduce

import pytest

from contracts_schema.base import DomainEvent
from contracts_schema.enrolment.commands import (
    MergeMunicipality,
    RegisterOrganisation,
    RenameOrganisation,
)
from contracts_schema.enrolment.events import (
    MunicipalityMerged,
    OrganisationRegistered,
    OrganisationRenamed,
)
from contracts_schema.enrolment.state.organisation import OrganisationState, evolve
from contracts_schema.errors import RuleViolation
from enrolment.domain.codes import predecessors_of
from enrolment.domain.organisation import (
    merge,
    register,
    register_from_reference_list,
    rename,
)

NOW = date(2026, 1, 15)  # the valid day of the decisions below


def given(*events: DomainEvent) -> OrganisationState:
    return reduce(evolve, events, OrganisationState(""))


def municipality(code: str, name: str) -> OrganisationRegistered:
    return OrganisationRegistered(code=code, name=name, kind="municipality", province="Overijssel")


def registration(code: str, kind: str = "ministry", name: str = "BZK") -> RegisterOrganisation:
    return RegisterOrganisation(command_id="c", code=code, name=name, kind=kind)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("GM0363", "municipality"),
        ("KVK-27364819", "supplier"),
        ("OIN-00000001003214345000", "ministry"),
    ],
)
def test_valid_codes_register(code: str, kind: str) -> None:
    [event] = register(OrganisationState(""), registration(code, kind), NOW)
    assert isinstance(event, OrganisationRegistered)
    assert (event.code, event.kind) == (code, kind)


@pytest.mark.parametrize("code", ["GM363", "GM03631", "KVK-1234567", "OIN-123", "KVK12345678", "X"])
def test_malformed_code_is_refused(code: str) -> None:
    with pytest.raises(RuleViolation) as refused:
        register(OrganisationState(""), registration(code), NOW)
    assert refused.value.code == "INVALID_ORGANISATION_CODE"
    assert code in refused.value.message


@pytest.mark.parametrize(
    ("code", "kind"), [("GM0363", "ministry"), ("KVK-12345678", "municipality")]
)
def test_cbs_codes_are_for_municipalities_only(code: str, kind: str) -> None:
    with pytest.raises(RuleViolation) as refused:
        register(OrganisationState(""), registration(code, kind), NOW)
    assert refused.value.code == "ORGANISATION_KIND_MISMATCH"


def test_registering_the_same_body_again_changes_nothing() -> None:
    state = given(OrganisationRegistered(code="KVK-12345678", name="BZK", kind="ministry"))
    assert register(state, registration("KVK-12345678"), NOW) == []


def test_registering_a_known_code_with_other_data_is_refused() -> None:
    state = given(OrganisationRegistered(code="KVK-12345678", name="BZK", kind="ministry"))
    with pytest.raises(RuleViolation) as refused:
        register(state, registration("KVK-12345678", name="Other"), NOW)
    assert refused.value.code == "ORGANISATION_ALREADY_REGISTERED"


def test_reference_list_leaves_a_renamed_municipality_alone() -> None:
    state = given(
        municipality("GM0193", "Zwolle"),
        OrganisationRenamed(code="GM0193", name="Zwolle (Ov.)", previous_name="Zwolle"),
    )
    command = RegisterOrganisation(
        command_id="c", code="GM0193", name="Zwolle", kind="municipality", province="Overijssel"
    )
    assert register_from_reference_list(state, command, NOW) == []


def test_rename_records_old_and_new_name() -> None:
    state = given(municipality("GM0193", "Zwolle"))
    [event] = rename(state, RenameOrganisation(command_id="r", code="GM0193", name="Swol"), NOW)
    assert event == OrganisationRenamed(
        code="GM0193", name="Swol", previous_name="Zwolle", renamed_on=NOW
    )
    assert given(municipality("GM0193", "Zwolle"), event).name == "Swol"


def test_rename_of_unknown_organisation_is_refused() -> None:
    with pytest.raises(RuleViolation) as refused:
        rename(
            OrganisationState(""),
            RenameOrganisation(command_id="r", code="GM0193", name="Swol"),
            NOW,
        )
    assert refused.value.code == "ORGANISATION_UNKNOWN"


def merger(code: str = "GM0175", successor: str = "GM1896") -> MergeMunicipality:
    return MergeMunicipality(
        command_id="m", code=code, successor_code=successor, effective_on=date(2026, 1, 1)
    )


def test_merger_is_recorded_and_the_merged_municipality_can_no_longer_act() -> None:
    state = given(municipality("GM0175", "Ommen"))
    successor = given(municipality("GM1896", "Ommen-Hardenberg"))
    [event] = merge(state, merger(), successor, NOW)
    assert event == MunicipalityMerged(
        code="GM0175", successor_code="GM1896", effective_on=date(2026, 1, 1)
    )
    with pytest.raises(RuleViolation) as refused:
        rename(
            given(municipality("GM0175", "Ommen"), event),
            RenameOrganisation(command_id="r", code="GM0175", name="X"),
            NOW,
        )
    assert refused.value.code == "ORGANISATION_MERGED"
    assert "GM1896" in refused.value.message


@pytest.mark.parametrize(
    ("state", "successor", "command", "code"),
    [
        (
            OrganisationState(""),
            given(municipality("GM1896", "O-H")),
            merger(),
            "ORGANISATION_UNKNOWN",
        ),
        (
            given(OrganisationRegistered(code="KVK-12345678", name="LNVT", kind="association")),
            given(municipality("GM1896", "O-H")),
            merger("KVK-12345678"),
            "NOT_A_MUNICIPALITY",
        ),
        (
            given(municipality("GM0175", "Ommen")),
            given(municipality("GM0175", "Ommen")),
            merger(successor="GM0175"),
            "MERGE_INTO_ITSELF",
        ),
        (
            given(municipality("GM0175", "Ommen")),
            OrganisationState(""),
            merger(),
            "SUCCESSOR_NOT_A_MUNICIPALITY",
        ),
        (
            given(municipality("GM0175", "Ommen")),
            given(
                municipality("GM1896", "O-H"),
                MunicipalityMerged(
                    code="GM1896", successor_code="GM0160", effective_on=date(2025, 1, 1)
                ),
            ),
            merger(),
            "SUCCESSOR_MERGED",
        ),
    ],
)
def test_merger_rules(
    state: OrganisationState, successor: OrganisationState, command: MergeMunicipality, code: str
) -> None:
    with pytest.raises(RuleViolation) as refused:
        merge(state, command, successor, NOW)
    assert refused.value.code == code


def test_predecessors_are_found_through_chains_of_mergers() -> None:
    successors = {"GM0001": "GM0002", "GM0002": "GM0003", "GM0004": "GM0003", "GM0005": "GM0006"}
    assert predecessors_of("GM0003", successors) == {"GM0001", "GM0002", "GM0004"}
    assert predecessors_of("GM0006", successors) == {"GM0005"}
    assert predecessors_of("GM0001", successors) == frozenset()


# --- valid days: nothing before the registration; a registration dated back --------------

LOADED, EARLIER = date(2020, 3, 10), date(2019, 1, 1)


def loaded(code: str = "GM0175", name: str = "Ommen", on: date = LOADED) -> OrganisationState:
    return given(
        OrganisationRegistered(
            code=code, name=name, kind="municipality", province="Overijssel", registered_on=on
        )
    )


def again(code: str = "GM0175", name: str = "Ommen") -> RegisterOrganisation:
    return RegisterOrganisation(
        command_id="again", code=code, name=name, kind="municipality", province="Overijssel"
    )


def test_a_merger_or_rename_before_the_registration_day_is_refused() -> None:
    state, successor = loaded(), loaded("GM1896", "Hardenberg")
    with pytest.raises(RuleViolation) as refused:
        merge(state, merger(), successor, date(2020, 3, 9))
    assert refused.value.code == "ORGANISATION_NOT_YET_REGISTERED"
    assert "RegisterOrganisation for GM0175 again" in refused.value.message
    with pytest.raises(RuleViolation) as refused:
        rename(state, RenameOrganisation(command_id="r", code="GM0175", name="X"), EARLIER)
    assert refused.value.code == "ORGANISATION_NOT_YET_REGISTERED"
    # The same day is no day before: every view keeps a day's facts in the order recorded.
    assert merge(state, merger(), successor, LOADED)


def test_a_merger_before_the_successors_registration_is_refused() -> None:
    successor = loaded("GM1896", "Hardenberg")
    with pytest.raises(RuleViolation) as refused:
        merge(loaded(on=EARLIER), merger(), successor, date(2020, 1, 1))
    assert refused.value.code == "ORGANISATION_NOT_YET_REGISTERED"
    assert "GM1896" in refused.value.message


def test_a_registration_sent_again_earlier_dates_it_back_in_either_order_of_folding() -> None:
    state = loaded()
    [back] = register(state, again(), EARLIER)
    assert back == OrganisationRegistered(
        code="GM0175", name="Ommen", kind="municipality", province="Overijssel",
        registered_on=EARLIER,
    )  # fmt: skip
    first = OrganisationRegistered(
        code="GM0175", name="Ommen", kind="municipality", province="Overijssel",
        registered_on=LOADED,
    )  # fmt: skip
    renamed = OrganisationRenamed(
        code="GM0175", name="Ommen (Ov.)", previous_name="Ommen", renamed_on=date(2021, 1, 1)
    )
    recorded = given(first, back, renamed)
    by_day = given(back, first, renamed)
    assert recorded == by_day
    assert (recorded.registered_on, recorded.named_on) == (EARLIER, date(2021, 1, 1))
    # Now earlier facts fit, and the same registration once more changes nothing.
    assert merge(given(first, back), merger(), loaded("GM1896", "H", EARLIER), date(2019, 6, 1))
    assert register(given(first, back), again(), EARLIER) == []


def test_a_registration_dated_back_needs_the_details_it_was_registered_with() -> None:
    with pytest.raises(RuleViolation) as refused:
        register(loaded(), again(name="Ommen-Vechtdal"), EARLIER)
    assert refused.value.code == "ORGANISATION_ALREADY_REGISTERED"
    renamed = given(
        OrganisationRegistered(
            code="GM0175", name="Ommen", kind="municipality", province="Overijssel",
            registered_on=LOADED,
        ),
        OrganisationRenamed(code="GM0175", name="O", previous_name="Ommen", renamed_on=LOADED),
    )  # fmt: skip
    with pytest.raises(RuleViolation) as refused:
        register(renamed, again(), EARLIER)
    assert refused.value.code == "ORGANISATION_ALREADY_REGISTERED"
    assert "renamed" in refused.value.message


def test_a_rename_dated_before_the_current_name_is_refused() -> None:
    state = given(
        OrganisationRegistered(
            code="GM0175", name="Ommen", kind="municipality", province="Overijssel",
            registered_on=EARLIER,
        ),
        OrganisationRenamed(
            code="GM0175", name="O", previous_name="Ommen", renamed_on=date(2021, 1, 1)
        ),
    )  # fmt: skip
    command = RenameOrganisation(command_id="r", code="GM0175", name="P")
    with pytest.raises(RuleViolation) as refused:
        rename(state, command, date(2020, 1, 1))
    assert refused.value.code == "RENAME_OUT_OF_ORDER"
    assert rename(state, command, date(2021, 1, 1))


def test_organisations_stored_without_valid_days_are_decided_as_before() -> None:
    legacy = given(municipality("GM0175", "Ommen"))  # no registered_on: nothing to compare
    assert merge(legacy, merger(), given(municipality("GM1896", "H")), EARLIER)
    assert register(legacy, again(), EARLIER) == []
