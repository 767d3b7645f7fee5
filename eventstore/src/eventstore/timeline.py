"""One aggregate's read-model rows through both clocks: pure, no SQL, no broker.

A read model is a function `image(state) -> rows` of the owner's typed fold. Folding an
aggregate's events in valid-time order gives, per row, a sequence of valid intervals with
their contents; what the registry knows changes only when an event is recorded. So every
recorded event turns into *row changes*: open versions to close at the event's transaction
time, and new versions to insert from it (SQL:2011's bitemporal table, half-open
`[from, to)` on both axes). An event recorded in valid-time order changes only the rows it
touches; a backdated one refolds the aggregate from where it lands (the states before it
are kept) and changes what differs. A version known from and to one instant is dropped.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, NamedTuple, TypeVar

S = TypeVar("S")
E = TypeVar("E")

FOREVER = 2**62  # the open end of an interval, in microseconds since the epoch

RowKey = tuple[str, tuple[Hashable, ...]]  # (table, key values)
Row = Mapping[str, Any]
Image = dict[RowKey, Row]
# The rows one event may have changed, from the state after it (None: the row is gone);
# every other row of the image is the same as before the event. A `patch` function returns
# None when it cannot say (the whole image is taken then).
Patch = dict[RowKey, Row | None]
# Whether two events of an aggregate commute: folded in either order they give equal states,
# and neither changes the rows of the read model's image that the other touches (its
# `patch`). A backdated event that commutes with every event from its instant on is laid
# over the later states instead of refolding them (`Timeline._rederive`).
Commutes = Callable[[Any, Any], bool]
ValidKey = tuple[int, int, int]  # (valid µs, known µs, aggregate version): the fold order


# The values made for every event of a rebuild are named tuples (immutable, and built in a
# fraction of a frozen dataclass's time); `Segment` is kept per open row.
class Version(NamedTuple):
    """One stored row version: its contents and its two intervals."""

    key: RowKey
    row: Row
    valid_from: int
    valid_to: int
    known_from: int
    known_to: int = FOREVER


class Close(NamedTuple):
    """Stop knowing an open version (key, valid_from) at `known_to`.

    `known_from` is when it became known: a version known from and to the same instant was
    never visible at any horizon, and is removed rather than kept.
    """

    key: RowKey
    valid_from: int
    known_to: int
    known_from: int
    # The closed version's valid end and contents: what a count of versions at a horizon
    # (`VersionedProjection.counted`) takes off at `known_to` (asof12).
    valid_to: int = FOREVER
    row: Row | None = None


@dataclass
class Changes:
    closes: list[Close] = field(default_factory=list)
    inserts: list[Version] = field(default_factory=list)


class Recorded(NamedTuple, Generic[E]):
    """A typed event with its place on both clocks."""

    event: E
    valid: int
    known: int
    version: int

    @property
    def order(self) -> ValidKey:
        return (self.valid, self.known, self.version)


@dataclass(slots=True)
class Segment:
    """A run of one row's contents through valid time (never changed once made)."""

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
        patch: Callable[[S, E], Patch | None] | None = None,
        commutes: Commutes | None = None,
    ) -> None:
        self._initial = initial
        self._evolve = evolve
        self._image = image
        self._patch = patch
        self._commutes = commutes if patch is not None else None
        self.events: list[Recorded[E]] = []  # in valid-time order
        # The fold after each of `events` (states are immutable values: kept, not copied),
        # so a backdated event refolds only from where it lands, not from the beginning.
        self.states: list[S] = []
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
        if known != event.known:
            event = Recorded(event.event, event.valid, known, event.version)
        if not self.events or event.order >= self.events[-1].order:
            self._append(event, changes)
        else:
            self._rederive(event, changes)
        self.known = known

    def _append(self, event: Recorded[E], changes: Changes) -> None:
        state = self._evolve(self.state, event.event)
        last_image = self.last_image
        image, touched = _next_image(last_image, state, [event.event], self._image, self._patch)
        at, known = event.valid, event.known
        for key in touched:
            old, new = last_image.get(key), image.get(key)
            if old is new or old == new:  # images may reuse unchanged rows: `is` is enough
                continue
            segments = self.open.setdefault(key, [])
            if old is not None:
                last = segments.pop()  # the version valid until further notice
                changes.closes.append(
                    Close(key, last.valid_from, known, last.known_from, last.valid_to, last.row)
                )
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
        self.states.append(state)
        self.state, self.last_image = state, image

    def _rederive(self, event: Recorded[E], changes: Changes) -> None:
        """Refold from where the backdated event lands; what lies before it stays as it is.

        Every event before the group of events at the new event's valid instant V keeps its
        state and its segments; a row's segment that was still running at V runs on (open)
        until the refold of the rest says otherwise. Only segments reaching V can differ, and
        only of rows the refold changes or whose versions changed from V on: an aggregate
        with many rows (a window's participants) pays for the rows in play, not for all.
        """
        at = event.valid
        index = bisect_right(self.events, event.order, key=_order)
        start = index
        while start > 0 and self.events[start - 1].valid == at:
            start -= 1  # facts of one instant take effect together: refold the whole instant
        if self._commutes is not None and self._laid_over(event, start, index, changes):
            return
        state = self.states[start - 1] if start > 0 else self._initial
        # The image of that state is, row by row, the version running at V (it starts
        # before V and reaches it): read off the segments, not re-imaged.
        current: Image = {}
        moving: list[RowKey] = []  # rows whose versions change from V on
        for key, runs in self.open.items():
            last = runs[-1]
            if last.valid_from < at:
                if last.valid_to >= at:
                    current[key] = last.row
                    if last.valid_to != FOREVER:
                        moving.append(key)
                continue
            moving.append(key)
            for segment in reversed(runs):
                if segment.valid_from < at:
                    if segment.valid_to >= at:
                        current[key] = segment.row
                    break

        def prefix(key: RowKey) -> list[Segment]:
            kept = [s for s in self.open.get(key, ()) if s.valid_from < at]
            if kept and kept[-1].valid_to >= at:  # running at V: open until the refold says
                last = kept[-1]
                kept[-1] = Segment(last.valid_from, FOREVER, last.row, last.known_from)
            return kept

        rest = [*self.events[start:index], event, *self.events[index:]]
        states: list[S] = []
        state, image, segments = _fold_into(
            state, current, prefix, self._evolve, self._image, self._patch, rest, states
        )
        known = event.known
        in_play = dict.fromkeys(moving)
        in_play.update(dict.fromkeys(k for k in segments if k not in in_play))
        for key in in_play:
            runs = segments[key] if key in segments else prefix(key)
            before = {s.valid_from: s for s in self.open.get(key, ()) if s.valid_to >= at}
            after = {s.valid_from: s for s in runs if s.valid_to >= at}
            for valid_from, was in before.items():
                now = after.get(valid_from)
                if now is None or (now is not was and now != was):
                    changes.closes.append(
                        Close(key, valid_from, known, was.known_from, was.valid_to, was.row)
                    )
            for valid_from, now_ in after.items():
                was_ = before.get(valid_from)
                if was_ is None or (now_ is not was_ and now_ != was_):
                    changes.inserts.append(Version(key, now_.row, valid_from, now_.valid_to, known))
                    after[valid_from] = Segment(valid_from, now_.valid_to, now_.row, known)
                else:
                    after[valid_from] = was_  # still known since it was first recorded
            runs = [after.get(r.valid_from, r) for r in runs]
            if runs:
                self.open[key] = runs
            else:
                self.open.pop(key, None)
        self.events[start:] = rest
        self.states[start:] = states
        self.state, self.last_image = state, image

    def _laid_over(self, event: Recorded[E], start: int, index: int, changes: Changes) -> bool:
        """A backdated event that commutes with every event from its instant on (an enrolment
        of a body no later event of the window touches): each later state is the old one with
        the event folded in, and only the rows the event touches change, from its valid
        instant on. False (nothing changed) when that cannot be said: the caller refolds.

        What a refold would give, without it: the later events' rows are not re-imaged, and
        no row but the event's own is looked at (a refold walks every open row).
        """
        commutes, patch = self._commutes, self._patch
        assert commutes is not None
        assert patch is not None
        new = event.event
        events = self.events
        for later in range(start, len(events)):
            if not commutes(new, events[later].event):
                return False
        evolve = self._evolve
        first = evolve(self.states[index - 1] if index > 0 else self._initial, new)
        rows = patch(first, new)
        if rows is None or any(row is None for row in rows.values()):
            return False
        later_states = [evolve(state, new) for state in self.states[index:]]
        last = later_states[-1] if later_states else first
        if later_states and patch(last, new) != rows:
            return False  # the event's rows differ at the end: not laid over, refolded
        at, known = event.valid, event.known
        for key in rows:
            runs = self.open.get(key)
            if runs and (runs[-1].valid_from >= at or runs[-1].valid_to != FOREVER):
                return False  # changed at or after the instant, or ended: refolded
        # Decided: nothing above changed the timeline; from here it is changed.
        image = dict(self.last_image)
        for key, row in rows.items():
            assert row is not None
            image[key] = row
            segments = self.open.setdefault(key, [])
            if segments:
                running = segments[-1]  # from before the instant, until further notice
                if running.row is row or running.row == row:
                    continue
                segments.pop()
                changes.closes.append(
                    Close(key, running.valid_from, known, running.known_from, FOREVER, running.row)
                )
                kept = Segment(running.valid_from, at, running.row, known)
                segments.append(kept)
                changes.inserts.append(Version(key, kept.row, kept.valid_from, at, known))
            segments.append(Segment(at, FOREVER, row, known))
            changes.inserts.append(Version(key, row, at, FOREVER, known))
        events.insert(index, event)
        self.states[index:] = [first, *later_states]
        self.state, self.last_image = last, image
        return True


def _order(event: Recorded[Any]) -> ValidKey:
    return event.order


def _next_image(
    last: Image,
    state: S,
    events: list[E],
    image: Callable[[S], Image],
    patch: Callable[[S, E], Patch | None] | None,
) -> tuple[Image, Iterable[RowKey]]:
    """The image after `events` (which led to `state`) and the keys that may differ from `last`.

    With a `patch`, only the rows the events touched are built (the rest is `last`'s): a
    window with n participants costs one row per enrolment, not n. The patches of several
    events merge in order; a later one's row is from a later state, and a row only an earlier
    event touched is the same in both states.
    """
    if patch is not None:
        merged: Patch = {}
        for event in events:
            rows = patch(state, event)
            if rows is None:
                break
            merged.update(rows)
        else:
            new = dict(last)
            for key, row in merged.items():
                if row is None:
                    new.pop(key, None)
                else:
                    new[key] = row
            return new, merged.keys()
    new = image(state)
    return new, last.keys() | new.keys()


def _fold_into(
    state: S,
    current: Image,
    prefix: Callable[[RowKey], list[Segment]],
    evolve: Callable[[S, E], S],
    image: Callable[[S], Image],
    patch: Callable[[S, E], Patch | None] | None,
    ordered: list[Recorded[E]],
    states: list[S],
) -> tuple[S, Image, dict[RowKey, list[Segment]]]:
    """Continue a fold (its state and image) over `ordered`; states are appended.

    Returns the segments of the rows the fold changed, each continuing `prefix(row)` (its
    segments before the fold); a row no longer there has an empty list.
    """
    segments: dict[RowKey, list[Segment]] = {}
    group: list[E] = []
    for index, recorded in enumerate(ordered):
        state = evolve(state, recorded.event)
        states.append(state)
        group.append(recorded.event)
        nxt = ordered[index + 1] if index + 1 < len(ordered) else None
        if nxt is not None and nxt.valid == recorded.valid:
            continue  # facts of one instant take effect together
        new, touched = _next_image(current, state, group, image, patch)
        group = []
        at = recorded.valid
        for key in touched:
            old_row, new_row = current.get(key), new.get(key)
            if old_row is new_row or old_row == new_row:
                continue
            rows = segments.get(key)
            if rows is None:
                rows = segments[key] = prefix(key)
            if old_row is not None:
                last = rows.pop()
                if last.valid_from < at:
                    rows.append(Segment(last.valid_from, at, last.row))
            if new_row is not None:
                rows.append(Segment(at, FOREVER, new_row))
        current = new
    return state, current, segments


def replay(
    initial: S,
    evolve: Callable[[S, E], S],
    image: Callable[[S], Image],
    events: Iterable[Recorded[E]],
    patch: Callable[[S, E], Patch | None] | None = None,
    commutes: Commutes | None = None,
) -> tuple[Timeline[S, E], list[tuple[Recorded[E], Exception]]]:
    """A timeline rebuilt from an aggregate's recorded events (stream order).

    Events the fold refuses are left out, as the runner parked them when they arrived.
    """
    timeline: Timeline[S, E] = Timeline(initial, evolve, image, patch, commutes)
    refused: list[tuple[Recorded[E], Exception]] = []
    for event in events:
        try:
            timeline.record(event, Changes())
        except Exception as exc:
            refused.append((event, exc))
    return timeline, refused
