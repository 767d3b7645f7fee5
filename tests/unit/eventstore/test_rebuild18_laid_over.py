"""A backdated event that commutes with everything after it is laid over the later states
(`Timeline(..., commutes=...)`), not refolded: the same versions at every horizon, and the
later events are not re-imaged (rebuild18).

The toy aggregate of `test_timeline`: bumps of different counters commute (each touches its
own row); a removal (by 0) is never laid over (its row goes).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from eventstore.timeline import Changes, Patch, Recorded, Timeline
from tests.unit.eventstore.test_timeline import (
    Bump,
    State,
    Versions,
    evolve,
    expected,
    histories,
    image,
    patch,
)


def commutes(a: Bump, b: Bump) -> bool:
    return a.counter != b.counter


@settings(max_examples=300, deadline=None)
@given(histories, st.integers(1, 3))
def test_laid_over_timelines_change_the_same_versions_as_refolds(
    history: list[tuple[str, int, int]], per_instant: int
) -> None:
    refolded: Timeline[State, Bump] = Timeline({}, evolve, image, patch)
    laid: Timeline[State, Bump] = Timeline({}, evolve, image, patch, commutes)
    versions = Versions()
    events: list[Recorded[Bump]] = []
    for index, (counter, by, valid) in enumerate(history, start=1):
        known = (index + per_instant - 1) // per_instant
        event = Recorded(Bump(counter, by), valid * 10, known * 10, index)
        expected_changes, changes = Changes(), Changes()
        refolded.record(event, expected_changes)
        laid.record(event, changes)
        assert sorted(map(repr, changes.closes)) == sorted(map(repr, expected_changes.closes))
        assert sorted(map(repr, changes.inserts)) == sorted(map(repr, expected_changes.inserts))
        versions.apply(changes)
        events.append(event)
        assert laid.open == refolded.open
        assert laid.states == refolded.states
        assert laid.events == refolded.events
        assert laid.last_image == refolded.last_image == image(refolded.state)
    for known in range(0, (len(history) + 1) * 10 + 1, 5):
        for valid in range(-5, 215, 5):
            assert versions.at(valid, known) == expected(events, valid, known), (valid, known)


def test_a_backdated_event_of_its_own_row_does_not_re_image_what_follows() -> None:
    asked: list[Bump] = []

    def patch_seen(state: State, event: Bump) -> Patch:
        asked.append(event)
        return patch(state, event)

    laid: Timeline[State, Bump] = Timeline({}, evolve, image, patch_seen, commutes)
    whole: Timeline[State, Bump] = Timeline({}, evolve, image)
    for version, (counter, valid) in enumerate([("a", 10), ("b", 50), ("b", 60), ("a", 70)], 1):
        event = Recorded(Bump(counter, 1), valid, version, version)
        laid.record(event, Changes())
        whole.record(event, Changes())
    asked.clear()
    backdated = Recorded(Bump("c", 5), 20, 5, 5)  # c: no later event touches it
    changes, expected_changes = Changes(), Changes()
    laid.record(backdated, changes)
    whole.record(backdated, expected_changes)
    assert changes == expected_changes
    assert laid.open == whole.open
    assert laid.state == whole.state == {"a": 2, "b": 2, "c": 5}
    # Its own row at its place (and once more at the end, a guard); "b" and "a" not re-imaged.
    assert asked == [Bump("c", 5), Bump("c", 5)]

    asked.clear()
    touching = Recorded(Bump("b", 1), 30, 6, 6)  # b changes later: refolded from day 30
    laid.record(touching, Changes())
    assert Bump("b", 1) in asked
    assert len(asked) > 2
