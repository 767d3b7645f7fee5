"""The history generator's own promises, without a running system (that proof is in
tests/integration/test_generated_histories.py): bounded sizes, unique ids, past valid
times, every command type reachable, backdated facts, and the horizons helper."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from functools import cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts_schema.base import Command
from contracts_schema.enrolment.commands import COMMANDS as ENROLMENT_COMMANDS
from contracts_schema.registry.commands import COMMANDS as REGISTRY_COMMANDS
from tests.support.histories import (
    FIRST_DAY,
    LAST_DAY,
    LATE_BETWEEN,
    MUNICIPALITIES,
    backdated,
    between_facts,
    command_types,
    histories,
    horizons,
    known_through,
    municipality_csv,
    valid_on,
)

# Not generated: imported facts come from `audit ocds import` (tests/service/test_ocds_import.py),
# not histories. (Mergers are, of each history's own municipalities: see `_past_merger`.)
NOT_GENERATED = {
    "RecordImportedTenderRelease",
    "RecordImportedContractRelease",
    "ImportProcessReleases",
    "ImportReleaseGroup",
}
SAMPLE = settings(
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@cache  # one sample shared by the tests below
def sample(n: int) -> tuple[list[Command], ...]:
    drawn: list[list[Command]] = []

    @settings(SAMPLE, max_examples=n)
    @given(histories())
    def collect(history: list[Command]) -> None:
        drawn.append(history)

    collect()
    return tuple(drawn)


def test_histories_are_bounded_unique_and_in_the_past() -> None:
    drawn = sample(150)
    ids: Counter[str] = Counter()
    for history in drawn:
        assert 15 <= len(history) <= 65, len(history)
        ids.update(c.command_id for c in history)
        for command in history:
            assert command.occurred_at is not None
            assert command.occurred_at.tzinfo is not None
            assert FIRST_DAY <= valid_on(command) <= LAST_DAY
            assert command.occurred_at.astimezone(UTC).date() == valid_on(command)
    assert [i for i, n in ids.items() if n > 1] == []  # unique across histories, too


def test_every_command_type_appears_and_facts_are_backdated() -> None:
    drawn = sample(150)
    seen: Counter[str] = Counter()
    for history in drawn:
        seen.update(command_types(history).keys())
    every = {c.command_type for c in (*REGISTRY_COMMANDS, *ENROLMENT_COMMANDS)}
    assert every - NOT_GENERATED - set(seen) == set()
    with_backdating = sum(1 for history in drawn if backdated(history))
    assert with_backdating >= 0.8 * len(drawn)
    # Facts learned late between facts of their own aggregate (a change of a contract's end
    # before a later one, an enrolment before the body's first): decided on the valid-time
    # order, and accepted (tests/integration/test_generated_histories.py).
    late = Counter(
        slug
        for history in drawn
        for i in between_facts(history)
        for slug in LATE_BETWEEN
        if slug in history[i].command_id
    )
    assert late["amend-end-late"] >= 3, late
    assert late["enrol-late"] >= 0.1 * len(drawn), late


@settings(SAMPLE, max_examples=30)
@given(history=histories(), step=st.integers(1, 5000))
def test_horizons_surround_the_history_and_checkpoints_follow_the_recording(
    history: list[Command], step: int
) -> None:
    alone = horizons(history)
    days = sorted(valid_on(c) for c in history)
    assert all(known_at is None for _, known_at in alone)
    assert 2 <= len(alone) <= 24
    assert alone[0][0] < days[0]
    assert alone[-1][0] > days[-1]

    start = datetime(2025, 1, 1, tzinfo=UTC)
    recorded = [start + timedelta(milliseconds=step * (i + 1)) for i in range(len(history))]
    points = horizons(history, recorded, limit=10, checkpoints=4)
    checkpoints = [known_at for _, known_at in points if known_at is not None]
    assert len(set(checkpoints)) == 1 + 4  # nothing known yet, then four commands
    assert min(known_through(recorded, k) for k in checkpoints) == 0
    assert max(known_through(recorded, k) for k in checkpoints) == len(history)
    assert known_through(recorded, None) == len(history)
    assert all(isinstance(as_of, date) for as_of, _ in points)


def test_the_municipality_csv_round_trips_every_shipped_row() -> None:
    text = municipality_csv(MUNICIPALITIES)
    rows = [tuple(row) for row in csv.reader(io.StringIO(text))]
    assert rows == [("cbs_code", "name", "province"), *MUNICIPALITIES]
