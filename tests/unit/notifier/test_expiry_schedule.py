"""The pure expiry schedule: which warning is due on which day, and only once."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from notifier.domain.schedule import (
    ContractSchedule,
    DueWarning,
    ExpiryPolicy,
    due_warnings,
    months_before,
    stages,
    tracked_dates,
)

POLICY = ExpiryPolicy()


def schedule(end: date, known: date, max_extent: date | None = None) -> ContractSchedule:
    return ContractSchedule(
        "C-1", "framework", tracked_dates(end, known, max_extent, known), ("GM0363",)
    )


def walk(s: ContractSchedule, start: date, stop: date) -> list[DueWarning]:
    """Every day from start to stop, raising what is due (the aggregate remembers keys)."""
    raised: set[str] = set()
    out = []
    day = start
    while day <= stop:
        for w in due_warnings(s, day, POLICY, frozenset(raised)):
            raised.add(w.key)
            out.append(w)
        day += timedelta(days=1)
    return out


def test_months_before_clamps_to_the_last_day_of_the_month() -> None:
    assert months_before(date(2026, 8, 31), 6) == date(2026, 2, 28)
    assert months_before(date(2028, 8, 31), 6) == date(2028, 2, 29)
    assert months_before(date(2026, 3, 15), 24) == date(2024, 3, 15)


def test_default_stages_are_24_18_12_6_3_months_and_the_end_itself() -> None:
    names = [(s.name, s.due_on) for s in stages(date(2028, 6, 30), POLICY)]
    assert names == [
        ("24m", date(2026, 6, 30)),
        ("18m", date(2026, 12, 30)),
        ("12m", date(2027, 6, 30)),
        ("6m", date(2027, 12, 30)),
        ("3m", date(2028, 3, 30)),
        ("expiry", date(2028, 6, 30)),
    ]


def test_daily_walk_raises_each_stage_once_on_its_day_and_never_late() -> None:
    s = schedule(date(2028, 6, 30), known=date(2025, 1, 1))
    warnings = walk(s, date(2025, 1, 1), date(2028, 12, 31))
    assert [(w.stage, w.due_on, w.late) for w in warnings] == [
        ("24m", date(2026, 6, 30), False),
        ("18m", date(2026, 12, 30), False),
        ("12m", date(2027, 6, 30), False),
        ("6m", date(2027, 12, 30), False),
        ("3m", date(2028, 3, 30), False),
        ("expiry", date(2028, 6, 30), False),
    ]


def test_stages_already_past_when_the_date_was_set_are_never_raised() -> None:
    # Signed on 2027-07-01 with an end in 2028: the 24, 18 and 12 month marks were behind us.
    s = schedule(date(2028, 6, 30), known=date(2027, 7, 1))
    assert [w.stage for w in walk(s, date(2027, 7, 1), date(2028, 7, 1))] == ["6m", "3m", "expiry"]


def test_backdated_fact_raises_only_the_latest_stage_and_marks_it_late() -> None:
    # Signed in 2024 (valid time) but entered today, 45 days after the 3-month mark.
    s = schedule(date(2026, 3, 1), known=date(2024, 1, 1))
    [warning] = due_warnings(s, date(2026, 1, 15), POLICY)
    assert (warning.stage, warning.due_on, warning.late) == ("3m", date(2025, 12, 1), True)


def test_dates_long_past_are_history_and_raise_nothing() -> None:
    s = schedule(date(2017, 6, 30), known=date(2010, 1, 1))
    assert due_warnings(s, date(2026, 1, 15), POLICY) == []


def test_a_warning_already_raised_is_not_due_again() -> None:
    s = schedule(date(2026, 7, 15), known=date(2020, 1, 1))
    [warning] = due_warnings(s, date(2026, 1, 15), POLICY)
    assert due_warnings(s, date(2026, 1, 16), POLICY, frozenset({warning.key})) == []


def test_max_extent_date_has_its_own_series_and_equal_dates_only_one() -> None:
    both = schedule(date(2026, 6, 30), known=date(2020, 1, 1), max_extent=date(2028, 6, 30))
    assert [w.date_kind for w in due_warnings(both, date(2026, 7, 1), POLICY)] == [
        "end",
        "max_extent",
    ]
    same = schedule(date(2026, 6, 30), known=date(2020, 1, 1), max_extent=date(2026, 6, 30))
    assert [w.date_kind for w in due_warnings(same, date(2026, 7, 1), POLICY)] == ["end"]


def test_terminated_contract_raises_nothing() -> None:
    s = schedule(date(2026, 3, 1), known=date(2020, 1, 1))
    ended = ContractSchedule(s.contract_id, s.contract_kind, s.dates, s.recipients, active=False)
    assert due_warnings(ended, date(2026, 2, 1), POLICY) == []


def test_command_ids_are_deterministic_and_valid_identifiers() -> None:
    s = schedule(date(2026, 3, 1), known=date(2020, 1, 1))
    first = due_warnings(s, date(2026, 2, 1), POLICY)[0]
    again = due_warnings(s, date(2026, 2, 2), POLICY)[0]
    assert first.command_id == again.command_id
    assert first.command_id.startswith("xw-")
    assert len(first.command_id) < 64


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"thresholds_months": (12, 0)}, "positive"),
        ({"thresholds_months": (6, 6)}, "distinct"),
        ({"late_after_days": -1}, "negative"),
    ],
)
def test_policy_rejects_nonsense(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ExpiryPolicy(**kwargs)  # type: ignore[arg-type]


def test_a_first_run_over_a_long_history_warns_only_of_dates_within_the_window() -> None:
    # The schedule starts today over a registry of contracts entered with their history:
    # ended years ago, ended within the forget window, ending soon. Each date says one thing,
    # once; nothing that ended more than `forget_after_days` ago is warned of, however late.
    today = date(2026, 1, 15)
    ends = [today - timedelta(days=d) for d in (3650, 400, 31)] + [
        today - timedelta(days=POLICY.forget_after_days),  # the last day it is still news
        today + timedelta(days=70),
    ]
    raised = [
        (w.target_date, w.stage, w.late)
        for end in ends
        for w in due_warnings(schedule(end, known=date(2010, 1, 1)), today, POLICY)
    ]
    assert raised == [
        (today - timedelta(days=POLICY.forget_after_days), "expiry", True),
        (today + timedelta(days=70), "3m", True),
    ]
