"""An aggregate's first event, taken with nothing before it, needs no timeline (`begin`): the
same row changes as a new timeline recording it, and the timeline made when a second event
comes (`Timeline.resumed`, in order or backdated) is the one that recorded the first
(rebuild21).

The toy aggregate of `test_timeline`, with and without a patch and commuting events.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from eventstore.timeline import Begun, Changes, Recorded, Timeline, begin
from tests.unit.eventstore.test_rebuild18_laid_over import commutes
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


def _same(a: Timeline[State, Bump], b: Timeline[State, Bump]) -> None:
    assert a.events == b.events
    assert a.states == b.states
    assert a.state == b.state
    assert a.last_image == b.last_image
    assert a.known == b.known
    assert list(a.open.items()) == list(b.open.items())  # the same rows, in the same order
    for key, runs in a.open.items():  # Segment's known_from is left out of its equality
        assert [s.known_from for s in runs] == [s.known_from for s in b.open[key]]


@settings(max_examples=300, deadline=None)
@given(histories, st.integers(1, 3), st.sampled_from(["image", "patch", "commutes"]))
def test_a_begun_aggregate_records_as_a_timeline_from_its_first_event(
    history: list[tuple[str, int, int]], per_instant: int, reading: str
) -> None:
    """Every event's changes equal (order included), the timeline made at the second event
    equals the one that recorded all, and the versions answer as the fold at every horizon
    (the later events often backdated before the first)."""
    patched = patch if reading != "image" else None
    commuting = commutes if reading == "commutes" else None
    whole: Timeline[State, Bump] = Timeline({}, evolve, image, patched, commuting)
    versions = Versions()
    begun: Begun[State, Bump] | None = None
    resumed: Timeline[State, Bump] | None = None
    events: list[Recorded[Bump]] = []
    for index, (counter, by, valid) in enumerate(history, start=1):
        known = (index + per_instant - 1) // per_instant
        event = Recorded(Bump(counter, by), valid * 10, known * 10, index)
        expected_changes, changes = Changes(), Changes()
        whole.record(event, expected_changes)
        if index == 1:
            begun = begin({}, evolve, image, patched, event, changes)
            assert begun.events == (event,)
            assert begun.state == whole.state
            assert begun.image == whole.last_image
        else:
            if resumed is None:
                assert begun is not None
                resumed = Timeline.resumed(begun, {}, evolve, image, patched, commuting)
                before = Timeline({}, evolve, image, patched, commuting)
                before.record(events[0], Changes())
                _same(resumed, before)
            resumed.record(event, changes)
            _same(resumed, whole)
        assert changes == expected_changes
        assert not changes.closes or index > 1
        versions.apply(changes)
        events.append(event)
    for known in range(0, (len(history) + 1) * 10 + 1, 5):
        for valid in range(-5, 215, 5):
            assert versions.at(valid, known) == expected(events, valid, known), (valid, known)


def test_a_refused_first_event_begins_nothing() -> None:
    def refusing(state: State, event: Bump) -> State:
        raise ValueError("refused")

    changes = Changes()
    try:
        begin({}, refusing, image, None, Recorded(Bump("a", 1), 10, 10, 1), changes)
    except ValueError:
        pass
    else:
        raise AssertionError("a refused first event must raise")
    assert changes == Changes()
