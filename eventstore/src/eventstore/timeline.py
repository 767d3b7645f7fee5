"""One aggregate's read-model rows through both clocks: pure, no SQL, no broker.

A read model is a function `image(state) -> rows` of the owner's typed fold. Folding an
aggregate's events in valid-time order gives, per row, a sequence of valid intervals with
their contents; what the registry knows changes only when an event is recorded. So every
recorded event turns into *row changes*: open versions to close at the event's transaction
time, and new versions to insert from it (SQL:2011's bitemporal table, half-open
`[from, to)` on both axes). An event recorded in valid-time order changes only the rows it
touches; a backdated one re-derives the aggregate's whole valid timeline and changes what
differs.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

S = TypeVar("S")
E = TypeVar("E")

FOREVER = 2**62  # the open end of an interval, in microseconds since the epoch

RowKey = tuple[str, tuple[Hashable, ...]]  # (table, key values)
Row = Mapping[str, Any]
Image = dict[RowKey, Row]
ValidKey = tuple[int, int, int]  # (valid µs, known µs, aggregate version): the fold order


@dataclass(frozen=True)
class Version:
    """One stored row version: its contents and its two intervals."""

    key: RowKey
    row: Row
    valid_from: int
    valid_to: int
    known_from: int
    known_to: int = FOREVER


@dataclass(frozen=True)
class Close:
    """Stop knowing an open version (key, valid_from) at `known_to`.

    `known_from` is when it became known: a version known from and to the same instant was
    never visible at any horizon, and is removed rather than kept.
    """

    key: RowKey
    valid_from: int
    known_to: int
    known_from: int


@dataclass
class Changes:
    closes: list[Close] = field(default_factory=list)
    inserts: list[Version] = field(default_factory=list)


@dataclass(frozen=True)
class Recorded(Generic[E]):
    """A typed event with its place on both clocks."""

    event: E
    valid: int
    known: int
    version: int

    @property
    def order(self) -> ValidKey:
        return (self.valid, self.known, self.version)


@dataclass(frozen=True)
class Segment:
    valid_from: int
    valid_to: int
    row: Row
    known_from: int = field(default=0, compare=False)  # bookkeeping, not part of the fact


class Timeline(Generic[S, E]):
    """The aggregate's known events and the open (currently known) versions of its rows."""

    def __init__(
        self,
        initial: S,
        evolve: Callable[[S, E], S],
        image: Callable[[S], Image],
    ) -> None:
        self._initial = initial
        self._evolve = evolve
        self._image = image
        self.events: list[Recorded[E]] = []  # in valid-time order
        self.state = initial  # the fold of every known event (valid-time order)
        self.last_image: Image = {}
        self.open: dict[RowKey, list[Segment]] = {}  # per row, valid-time order
        self.known = 0  # transaction time of the last event recorded

    def record(self, event: Recorded[E], changes: Changes) -> None:
        """Take one newly recorded event; append its row changes. Raises if the fold does.

        Nothing here changes unless the fold accepts the event, so a refused event leaves
        the timeline exactly as it was (the caller parks the event).
        """
        known = max(event.known, self.known)  # transaction time never runs backwards
        event = Recorded(event.event, event.valid, known, event.version)
        if not self.events or event.order >= self.events[-1].order:
            self._append(event, changes)
        else:
            self._rederive(event, changes)
        self.known = known

    def _append(self, event: Recorded[E], changes: Changes) -> None:
        state = self._evolve(self.state, event.event)
        image = self._image(state)
        at, known = event.valid, event.known
        for key in self.last_image.keys() | image.keys():
            old, new = self.last_image.get(key), image.get(key)
            if old == new:
                continue
            segments = self.open.setdefault(key, [])
            if old is not None:
                last = segments.pop()  # the version valid until further notice
                changes.closes.append(Close(key, last.valid_from, known, last.known_from))
                if last.valid_from < at:
                    kept = Segment(last.valid_from, at, last.row, known)
                    segments.append(kept)
                    changes.inserts.append(Version(key, kept.row, kept.valid_from, at, known))
            if new is not None:
                segments.append(Segment(at, FOREVER, new, known))
                changes.inserts.append(Version(key, new, at, FOREVER, known))
            if not segments:
                del self.open[key]
        self.events.append(event)
        self.state, self.last_image = state, image

    def _rederive(self, event: Recorded[E], changes: Changes) -> None:
        events = sorted([*self.events, event], key=lambda e: e.order)
        state, image, segments = fold_segments(self._initial, self._evolve, self._image, events)
        known = event.known
        before = {(k, s.valid_from): s for k, ss in self.open.items() for s in ss}
        after = {(k, s.valid_from): s for k, ss in segments.items() for s in ss}
        for (key, valid_from), old in before.items():
            if after.get((key, valid_from)) != old:
                changes.closes.append(Close(key, valid_from, known, old.known_from))
        for (key, valid_from), new in after.items():
            kept = before.get((key, valid_from))
            if kept != new:
                changes.inserts.append(Version(key, new.row, valid_from, new.valid_to, known))
                after[key, valid_from] = Segment(valid_from, new.valid_to, new.row, known)
            else:
                after[key, valid_from] = kept  # still known since it was first recorded
        for key, rows in segments.items():
            segments[key] = [after[key, s.valid_from] for s in rows]
        self.events, self.state, self.last_image, self.open = events, state, image, segments


def fold_segments(
    initial: S,
    evolve: Callable[[S, E], S],
    image: Callable[[S], Image],
    events: Iterable[Recorded[E]],
) -> tuple[S, Image, dict[RowKey, list[Segment]]]:
    """Fold events (valid-time order) into each row's coalesced valid-time segments."""
    state = initial
    ordered = list(events)
    segments: dict[RowKey, list[Segment]] = {}
    current: Image = {}
    for index, recorded in enumerate(ordered):
        state = evolve(state, recorded.event)
        nxt = ordered[index + 1] if index + 1 < len(ordered) else None
        if nxt is not None and nxt.valid == recorded.valid:
            continue  # facts of one instant take effect together
        new = image(state)
        at = recorded.valid
        for key in current.keys() | new.keys():
            old_row, new_row = current.get(key), new.get(key)
            if old_row == new_row:
                continue
            rows = segments.setdefault(key, [])
            if old_row is not None:
                last = rows.pop()
                if last.valid_from < at:
                    rows.append(Segment(last.valid_from, at, last.row))
            if new_row is not None:
                rows.append(Segment(at, FOREVER, new_row))
            if not rows:
                del segments[key]
        current = new
    return state, current, segments


def replay(
    initial: S,
    evolve: Callable[[S, E], S],
    image: Callable[[S], Image],
    events: Iterable[Recorded[E]],
) -> tuple[Timeline[S, E], list[tuple[Recorded[E], Exception]]]:
    """A timeline rebuilt from an aggregate's recorded events (stream order).

    Events the fold refuses are left out, as the runner parked them when they arrived.
    """
    timeline: Timeline[S, E] = Timeline(initial, evolve, image)
    refused: list[tuple[Recorded[E], Exception]] = []
    for event in events:
        try:
            timeline.record(event, Changes())
        except Exception as exc:
            refused.append((event, exc))
    return timeline, refused
