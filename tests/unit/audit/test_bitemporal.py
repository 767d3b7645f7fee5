"""As-of (valid time) and known-at (transaction time) answers from folded events."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from audit.bitemporal import Horizon, end_of_day, parse_instant
from audit.history import replay
from tests.support.audit_facts import KPN, LNVT_TENDER, RECORDED, TENDER, Fact, chain, on

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def at(as_of: date | datetime, known_at: datetime = NOW) -> Horizon:
    return Horizon(end_of_day(as_of) if isinstance(as_of, date) else as_of, known_at)


def lnvt() -> list:
    return chain(
        f"tender/{TENDER}",
        [(f, RECORDED + timedelta(seconds=i)) for i, f in enumerate(LNVT_TENDER)],
    )


def lot(state: dict, lot_id: str = "L1") -> dict:
    return next(x for x in state["lots"] if x["lot_id"] == lot_id)


def test_lnvt_as_of_20_november_2020_shows_provisional_award_to_kpn_in_standstill() -> None:
    state = replay("tender", TENDER, lnvt(), at(date(2020, 11, 20))).state
    assert lot(state)["status"] == "provisionally_awarded"
    assert lot(state)["supplier_ids"] == [KPN]
    assert (lot(state)["standstill_ends_on"], lot(state)["standstill_ended"]) == (
        "2020-12-03",
        False,
    )
    assert state["phase"] == "provisionally_awarded"


def test_lnvt_as_of_new_year_2021_shows_the_definitive_award() -> None:
    state = replay("tender", TENDER, lnvt(), at(date(2021, 1, 1))).state
    assert lot(state)["status"] == "awarded"
    assert lot(state)["awarded_on"] == "2020-12-07"
    assert state["phase"] == "awarded"


def test_lnvt_known_at_before_the_events_were_recorded_shows_nothing() -> None:
    result = replay("tender", TENDER, lnvt(), at(date(2021, 1, 1), RECORDED - timedelta(days=1)))
    assert result.exists is False
    assert (result.state["tender_id"], result.state["exists"]) == (TENDER, False)
    assert result.timeline == ()


def test_an_event_the_owners_fold_refuses_stays_in_the_timeline_and_changes_nothing() -> None:
    resumed = Fact("TenderResumed", {"tender_id": TENDER, "resumed_on": "2020-10-01"},
                   on(date(2020, 10, 1)))  # fmt: skip
    history = chain(f"tender/{TENDER}", [(f, RECORDED) for f in [*LNVT_TENDER[:2], resumed]])
    result = replay("tender", TENDER, history, at(date(2020, 10, 2)))
    last = result.timeline[-1]
    assert last.refused is not None
    assert "not paused" in last.refused
    assert last.changes == ()
    assert last.summary.startswith("TenderResumed not applied:")
    assert result.state["phase"] == "published"


def test_an_aggregate_without_a_fold_is_listed_envelope_by_envelope() -> None:
    fact = Fact("Anything", {"x": 1}, on(date(2020, 1, 1)))
    history = chain("subscription/S1", [(fact, RECORDED)], context="notifier")
    state = replay("subscription", "S1", history, at(date(2021, 1, 1))).state
    assert state["events"] == [
        {"event_type": "Anything", "occurred_at": fact.occurred_at.isoformat(), "payload": {"x": 1}}
    ]


SIGNED = Fact(
    "ContractSigned",
    {
        "contract_id": "C1",
        "kind": "contract",
        "contracting_authority": "GM0518",
        "suppliers": [{"supplier_id": KPN, "name": "KPN B.V."}],
        "lot_ids": [],
        "signed_on": "2015-01-01",
        "start_date": "2015-01-01",
        "end_date": "2017-12-31",
    },
    on(date(2015, 1, 1)),
)
EXTENDED = Fact(
    "ContractExtended",
    {"contract_id": "C1", "new_end_date": "2019-12-31", "previous_end_date": "2017-12-31",
     "extended_on": "2017-06-01"},
    on(date(2017, 6, 1)),
)  # fmt: skip
# The extension was really to mid 2020: a correction is a new event at the same valid time.
CORRECTED = Fact(
    "ContractExtended",
    {"contract_id": "C1", "new_end_date": "2020-06-30", "previous_end_date": "2019-12-31",
     "extended_on": "2017-06-01"},
    on(date(2017, 6, 1)),
)  # fmt: skip
# Learned late: the contract was transferred in 2016 already (a backdated event).
BACKDATED = Fact(
    "ContractTransferred",
    {
        "contract_id": "C1",
        "from_authority": "GM0518",
        "to_authority": "KVK-70000001",
        "transferred_on": "2016-03-01",
    },
    on(date(2016, 3, 1)),
)
K1, K2, K3, K4 = (datetime(2024, 1, d, tzinfo=UTC) for d in (1, 2, 3, 4))
HISTORY = chain("contract/C1", [(SIGNED, K1), (EXTENDED, K2), (CORRECTED, K3), (BACKDATED, K4)])


def contract(as_of: date, known_at: datetime) -> dict:
    return replay("contract", "C1", HISTORY, at(as_of, known_at)).state


def test_a_correction_changes_the_as_of_answer_but_not_what_was_known_before_it() -> None:
    assert contract(date(2018, 1, 1), K2)["end_date"] == "2019-12-31"
    assert contract(date(2018, 1, 1), K3)["end_date"] == "2020-06-30"
    # Asked again later, the answer known at K2 is still the one given at K2.
    assert contract(date(2018, 1, 1), K2)["end_date"] == "2019-12-31"


def test_a_backdated_event_changes_the_past_only_for_those_who_ask_after_it_was_recorded() -> None:
    assert contract(date(2016, 6, 1), K3)["contracting_authority"] == "GM0518"
    assert contract(date(2016, 6, 1), K4)["contracting_authority"] == "KVK-70000001"
    assert contract(date(2016, 2, 1), K4)["contracting_authority"] == "GM0518", (
        "not yet transferred on D"
    )


def test_valid_order_puts_the_backdated_event_before_later_facts_in_the_timeline() -> None:
    timeline = replay("contract", "C1", HISTORY, at(date(2026, 1, 1), K4)).timeline
    assert [t.envelope.event_type for t in timeline] == [
        "ContractSigned",
        "ContractTransferred",
        "ContractExtended",
        "ContractExtended",
    ]
    assert [t.envelope.aggregate_version for t in timeline] == [1, 4, 2, 3]


def test_timeline_entries_carry_both_clocks_actor_and_a_readable_summary() -> None:
    entry = replay("tender", TENDER, lnvt(), at(date(2021, 1, 1))).timeline[2].as_json()
    assert entry["occurred_at"].startswith("2020-11-13")
    assert entry["recorded_at"].startswith("2026-01-15")
    assert entry["actor"] == "coordinator:lnvt"
    assert entry["summary"] == f"lot L1 provisionally awarded to {KPN}; standstill until 2020-12-03"
    assert {
        "path": "lots.L1.status",
        "before": "open",
        "after": "provisionally_awarded",
    } in entry["changes"]


def test_field_history_lists_each_value_with_its_release_like_versionedrelease() -> None:
    history = replay("tender", TENDER, lnvt(), at(date(2021, 1, 1))).field_history
    status = history["lots.L1.status"]
    assert [v["value"] for v in status] == ["open", "provisionally_awarded", "awarded"]
    assert [v["releaseTag"] for v in status] == [
        ["TenderPlanned"],
        ["ProvisionalAwardDecided"],
        ["AwardMadeDefinitive"],
    ]
    assert status[1]["releaseID"] == f"{TENDER}-3"


def test_a_date_means_the_whole_dutch_day() -> None:
    assert parse_instant("2020-11-20", name="--as-of") == end_of_day(date(2020, 11, 20))
    assert end_of_day(date(2020, 11, 20)).utcoffset() == timedelta(hours=1)


@pytest.mark.parametrize(
    ("text", "message"),
    [("20-11-2020", "must be a date"), ("2020-11-20T12:00:00", "needs a timezone")],
)
def test_bad_instants_are_refused_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_instant(text, name="--as-of")
