"""The bitemporal timeline: the stored versions at any (valid, known) equal the fold.

A toy aggregate (a dict of counters, one row per counter) is enough to exercise every path:
events recorded in valid-time order, backdated ones, several at one instant, rows that
appear and disappear. The versions are applied to an in-memory table exactly as the SQL
writer applies them (closes, then inserts).
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from eventstore.timeline import FOREVER, Changes, Image, Patch, Recorded, Timeline, replay


@dataclass(frozen=True)
class Bump:
    counter: str
    by: int  # 0 removes the counter


State = dict[str, int]


def evolve(state: State, event: Bump) -> State:
    if event.by == 0:
        return {k: v for k, v in state.items() if k != event.counter}
    return {**state, event.counter: state.get(event.counter, 0) + event.by}


def image(state: State) -> Image:
    return {("counters", (name,)): {"name": name, "value": value} for name, value in state.items()}


class Versions:
    """The stored versions, changed the way the SQL writer changes them."""

    def __init__(self) -> None:
        self.rows: list[dict[str, object]] = []

    def apply(self, changes: Changes) -> None:
        for close in changes.closes:
            hits = [
                r
                for r in self.rows
                if r["key"] == close.key
                and r["valid_from"] == close.valid_from
                and r["known_to"] == FOREVER
            ]
            assert len(hits) == 1, f"close must find exactly one open version: {close}"
            assert hits[0]["known_from"] == close.known_from
            if close.known_to <= close.known_from:
                self.rows.remove(hits[0])  # never visible: removed, as the SQL writer does
            else:
                hits[0]["known_to"] = close.known_to
        for v in changes.inserts:
            self.rows.append(
                {
                    "key": v.key,
                    "row": v.row,
                    "valid_from": v.valid_from,
                    "valid_to": v.valid_to,
                    "known_from": v.known_from,
                    "known_to": v.known_to,
                }
            )

    def at(self, valid: int, known: int) -> Image:
        seen: Image = {}
        for r in self.rows:
            if (
                r["valid_from"] <= valid < r["valid_to"]
                and r["known_from"] <= known < r["known_to"]
            ):
                assert r["key"] not in seen, f"two versions of {r['key']} at ({valid}, {known})"
                seen[r["key"]] = r["row"]  # type: ignore[assignment]
        return seen


def expected(events: list[Recorded[Bump]], valid: int, known: int) -> Image:
    counted = sorted(
        (e for e in events if e.known <= known and e.valid <= valid), key=lambda e: e.order
    )
    state: State = {}
    for e in counted:
        state = evolve(state, e.event)
    return image(state)


histories = st.lists(
    st.tuples(st.sampled_from("abc"), st.integers(0, 3), st.integers(0, 20)),
    min_size=1,
    max_size=25,
)


@settings(max_examples=300, deadline=None)
@given(histories, st.integers(1, 3))
def test_versions_at_every_horizon_equal_the_fold_of_what_was_known(
    history: list[tuple[str, int, int]], per_instant: int
) -> None:
    """`per_instant` events share one transaction time (recorded in the same instant)."""
    timeline: Timeline[State, Bump] = Timeline({}, evolve, image)
    versions = Versions()
    events: list[Recorded[Bump]] = []
    for index, (counter, by, valid) in enumerate(history, start=1):
        known = (index + per_instant - 1) // per_instant
        event = Recorded(Bump(counter, by), valid * 10, known * 10, index)
        changes = Changes()
        timeline.record(event, changes)
        versions.apply(changes)
        events.append(event)
    for known in range(0, (len(history) + 1) * 10 + 1, 5):
        for valid in range(-5, 215, 5):
            assert versions.at(valid, known) == expected(events, valid, known), (valid, known)


@settings(max_examples=100, deadline=None)
@given(histories)
def test_a_timeline_replayed_after_a_restart_continues_identically(
    history: list[tuple[str, int, int]],
) -> None:
    live: Timeline[State, Bump] = Timeline({}, evolve, image)
    events = [
        Recorded(Bump(c, by), valid * 10, known * 10, known)
        for known, (c, by, valid) in enumerate(history, start=1)
    ]
    for e in events:
        live.record(e, Changes())
    restarted, refused = replay({}, evolve, image, events)
    assert refused == []
    assert restarted.open == live.open
    assert restarted.state == live.state


def test_an_event_in_valid_order_changes_only_the_rows_it_touches() -> None:
    timeline: Timeline[State, Bump] = Timeline({}, evolve, image)
    timeline.record(Recorded(Bump("a", 1), 10, 10, 1), Changes())
    timeline.record(Recorded(Bump("b", 1), 20, 20, 2), Changes())
    changes = Changes()
    timeline.record(Recorded(Bump("b", 1), 30, 30, 3), changes)
    assert {c.key for c in changes.closes} == {("counters", ("b",))}
    assert {v.key for v in changes.inserts} == {("counters", ("b",))}


def test_a_refused_event_leaves_the_timeline_as_it_was() -> None:
    def strict(state: State, event: Bump) -> State:
        if event.by < 0:
            raise ValueError("no negative bumps")
        return evolve(state, event)

    timeline: Timeline[State, Bump] = Timeline({}, strict, image)
    timeline.record(Recorded(Bump("a", 1), 10, 10, 1), Changes())
    before = (dict(timeline.open), timeline.state, list(timeline.events))
    changes = Changes()
    try:
        timeline.record(Recorded(Bump("a", -1), 5, 20, 2), changes)
    except ValueError:
        pass
    else:
        raise AssertionError("the fold refused the event; record must raise")
    assert (dict(timeline.open), timeline.state, list(timeline.events)) == before


def patch(state: State, event: Bump) -> Patch:
    """The one row a bump touched (its counter), from the state after it."""
    key = ("counters", (event.counter,))
    value = state.get(event.counter)
    return {key: None if value is None else {"name": event.counter, "value": value}}


@settings(max_examples=300, deadline=None)
@given(histories, st.integers(1, 3))
def test_patched_timelines_change_the_same_versions_as_whole_images(
    history: list[tuple[str, int, int]], per_instant: int
) -> None:
    """A backdated event refolds only the rows in play; every row change is the same as
    re-imaging the whole aggregate, and the versions still equal the fold at every horizon."""
    whole: Timeline[State, Bump] = Timeline({}, evolve, image)
    patched: Timeline[State, Bump] = Timeline({}, evolve, image, patch)
    versions = Versions()
    events: list[Recorded[Bump]] = []
    for index, (counter, by, valid) in enumerate(history, start=1):
        known = (index + per_instant - 1) // per_instant
        event = Recorded(Bump(counter, by), valid * 10, known * 10, index)
        expected_changes, changes = Changes(), Changes()
        whole.record(event, expected_changes)
        patched.record(event, changes)
        assert sorted(map(repr, changes.closes)) == sorted(map(repr, expected_changes.closes))
        assert sorted(map(repr, changes.inserts)) == sorted(map(repr, expected_changes.inserts))
        versions.apply(changes)
        events.append(event)
        assert patched.open == whole.open
        assert patched.last_image == whole.last_image == image(whole.state)
    for known in range(0, (len(history) + 1) * 10 + 1, 5):
        for valid in range(-5, 215, 5):
            assert versions.at(valid, known) == expected(events, valid, known), (valid, known)
