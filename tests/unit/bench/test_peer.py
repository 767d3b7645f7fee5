"""The peer suite's fairness: the library's SQLite durability as stated, rounds that alternate."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bench.suites.peer import (
    ROUNDS,
    WARM_UP,
    Measure,
    Theirs,
    alternating,
    sqlite_app,
    synchronous_of,
)


@pytest.mark.parametrize(("setting", "expected"), [("NORMAL", 1), ("FULL", 2)])
def test_the_librarys_sqlite_writes_with_the_synchronous_setting_it_is_given(
    tmp_path: Path, setting: str, expected: int
) -> None:
    app = sqlite_app(str(tmp_path / "es.db"), setting)
    assert synchronous_of(app) == expected


async def test_each_round_of_the_librarys_commands_uses_fresh_aggregates_of_ten_events(
    tmp_path: Path,
) -> None:
    app = sqlite_app(str(tmp_path / "es.db"), "NORMAL")
    theirs = Theirs(app)
    await theirs.command(40)
    await theirs.command(40)
    events = Counter(n.originator_id for n in app.recorder.select_notifications(1, 1_000))
    # 2 rounds x 4 aggregates, each created (1 event) then amended 10 times
    assert sorted(events.values()) == [11] * 8


async def test_rounds_alternate_which_side_goes_first_after_an_uncounted_warm_up() -> None:
    calls: list[tuple[str, int]] = []

    def side(name: str, rate: float) -> Measure:
        async def measure(n: int) -> float:
            calls.append((name, n))
            return rate

        return measure

    ours, theirs = await alternating(side("ours", 2.0), side("theirs", 1.0), 1_000)
    assert calls[:2] == [("theirs", WARM_UP), ("ours", WARM_UP)]
    leaders = [calls[2 + 2 * r][0] for r in range(ROUNDS)]
    assert leaders == ["theirs" if r % 2 == 0 else "ours" for r in range(ROUNDS)]
    assert {n for _, n in calls[2:]} == {1_000 // ROUNDS}
    assert ours == [2.0] * ROUNDS
    assert theirs == [1.0] * ROUNDS
