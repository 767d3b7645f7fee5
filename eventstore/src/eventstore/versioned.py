"""Projections whose rows are a pure image of the owner's typed fold, kept bitemporally.

A `VersionedProjection` names, per aggregate type it reads, the owner's fold and an `image`
(state -> rows). The runner hands it whole batches: each event is decoded to its typed
event, recorded on its aggregate's `Timeline` (pure), and the resulting row changes are
written in bulk (one UPDATE and one INSERT statement per table, many rows each), in the
runner's transaction with the checkpoint. Timelines stay in memory (bounded); after a
restart or an eviction an aggregate's earlier events are loaded: from a read model of the
same database that holds them all (the gateway's event log), else from the event store.

Every event type of the projection's contexts is declared: read through a fold, or
ignored on purpose (`ignored`); `undeclared()` lists the rest, and a test holds it empty.
"""

from __future__ import annotations

import functools
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import Connection, Table
from sqlalchemy.engine import Dialect

from contracts_schema.base import DomainEvent
from contracts_schema.calendar import start_of_dutch_day
from contracts_schema.subjects import BoundedContext
from contracts_schema.upcasting import decode, decode_envelope
from eventstore.bitemporal_sql import INTERVAL_COLUMNS, micros
from eventstore.bulk import Statement, execute, plan
from eventstore.projection import BatchProjection, Failure, Projection
from eventstore.store import StoredEvent
from eventstore.timeline import (
    FOREVER,
    Changes,
    Commutes,
    Image,
    Patch,
    Recorded,
    Timeline,
    replay,
)

# An aggregate's earlier events, as its fold reads them: (context, aggregate type, id, the
# stream sequence of the event being applied, that event's aggregate version).
History = Callable[[BoundedContext, str, str, int, int], Sequence[Recorded[DomainEvent]]]
# The same from a database the runner writes (`ProjectionRunner.local_history`): each event
# with its stream sequence, or None when that database does not hold the whole history.
LocalHistory = Callable[
    [Connection, BoundedContext, str, str, int, int],
    "list[tuple[int, Recorded[DomainEvent]]] | None",
]


# A versioned table's versions counted by one column's value (`VersionedProjection.counted`):
# (value, valid µs, known µs) -> the signed number of corners there (asof12).
Corners = Counter[tuple[Any, int, int]]


@dataclass(frozen=True)
class Reading:
    """How one aggregate type becomes rows: the owner's fold, and this read model's image."""

    initial: Callable[[str], Any]
    evolve: Callable[[Any, DomainEvent], Any]
    image: Callable[[Any], Image]
    events: frozenset[str]  # the event types of the aggregate type (the fold's)
    # Optional: the rows one event touched (`timeline.Patch`), so an aggregate with many
    # rows is not re-imaged whole on every event; must agree with `image` (a test holds it).
    patch: Callable[[Any, DomainEvent], Patch | None] | None = None
    # Optional, with `patch`: which events commute (`timeline.Commutes`): the owner's fold's
    # word that they fold to the same state in either order, and this read model's that
    # neither changes the rows the other touches in `image`.
    commutes: Commutes | None = None


def typed(event: StoredEvent) -> DomainEvent:
    """The typed event of a stored one (`recorded`'s)."""
    return recorded(event).event


def recorded(event: StoredEvent) -> Recorded[DomainEvent]:
    """The typed event of a stored one on both clocks; decoded once for every read model of
    the process that reads the same envelope (a call-off is read by two, a rebuild's event
    by up to three; envelopes and `Recorded` are immutable values, shared).

    The most recent `_TYPED_MAX` to twice that are kept, in two generations: when the newer
    is full it becomes the older one and the oldest go. (Clearing all at once made the read
    models that lag a few ranges behind the first one decode a third of the events again.)
    """
    global _TYPED, _TYPED_OLDER
    envelope = event.envelope
    key = id(envelope)
    hit = _TYPED.get(key) or _TYPED_OLDER.get(key)
    if hit is not None and hit[0] is envelope:  # the entry holds it: its id is not reused
        return hit[1]
    e = envelope
    value = Recorded(
        decode_envelope(e), _valid_micros(e.occurred_at), micros(e.recorded_at), e.aggregate_version
    )
    if len(_TYPED) >= _TYPED_MAX:
        _TYPED_OLDER, _TYPED = _TYPED, {}
    _TYPED[key] = (envelope, value)
    return value


def recorded_row(
    event_type: str,
    schema_version: int,
    payload: dict[str, Any],
    occurred_at: datetime,
    recorded_at: datetime,
    aggregate_version: int,
) -> Recorded[DomainEvent]:
    """`recorded` for an event kept as columns (a read model's copy of its envelope)."""
    return Recorded(
        decode(event_type, schema_version, payload),
        _valid_micros(occurred_at),
        micros(recorded_at),
        aggregate_version,
    )


_TYPED: dict[int, tuple[object, Recorded[DomainEvent]]] = {}
_TYPED_OLDER: dict[int, tuple[object, Recorded[DomainEvent]]] = {}
_TYPED_MAX = 20_000


@functools.lru_cache(maxsize=65_536)
def _valid_micros(occurred_at: datetime) -> int:
    """Valid time is a Dutch calendar day (many events share one: computed once each)."""
    return micros(start_of_dutch_day(occurred_at))


class VersionedProjection(BatchProjection):
    ignored: ClassVar[frozenset[str]] = frozenset()
    # Timelines kept in memory, least recently used first out: a timeline holds each event
    # and the state after it, so the bound is on events too. An evicted aggregate's events
    # are loaded again from the event store when it next changes.
    cache_size: ClassVar[int] = 200_000  # aggregates
    cache_events: ClassVar[int] = 1_000_000  # events across them

    def __init__(self) -> None:
        self._timelines: OrderedDict[tuple[str, str], Timeline[Any, DomainEvent]] = OrderedDict()
        self._cached_events = 0
        self.history: History | None = None  # set by the runner: an aggregate's earlier events
        # Wall clock when the last `prepare` last loaded an aggregate's earlier events (a
        # timeline not in memory), else None: a stage of the freshness benchmark's probes.
        self.history_loaded_at: float | None = None

    # -- what a read model says ------------------------------------------------------------
    def readings(self) -> dict[str, Reading]:
        """Per aggregate type: the fold and the image (tables must be defined first)."""
        raise NotImplementedError

    def versioned(self) -> dict[str, Table]:
        """The versioned tables by the names `image` uses."""
        raise NotImplementedError

    # -- counts at a horizon (asof12) --------------------------------------------------------
    def counted(self) -> dict[str, str]:
        """Versioned tables (by the names `image` uses) whose versions are counted at a
        horizon by one column's value, as the column: each version written or closed adds
        its signed corners (`Corners`) to `corner_statements`, in the same transaction."""
        return {}

    def corner_statements(self, dialect: Dialect, corners: dict[str, Corners]) -> list[Statement]:
        """The statements adding a batch's corners (per table of `counted`) to what is stored."""
        raise NotImplementedError

    # -- declarations ----------------------------------------------------------------------
    def handled(self) -> frozenset[str]:
        return frozenset().union(*(r.events for r in self.readings().values()))

    def undeclared(self) -> set[str]:
        """Event types of this projection's contexts it neither reads nor ignores."""
        return super().undeclared() - self.handled() - self.ignored

    # -- applying --------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget cached timelines (the transaction that used them did not commit)."""
        self._timelines.clear()
        self._cached_events = 0

    def apply_batch(self, conn: Connection, events: list[StoredEvent]) -> list[Failure]:
        return self.prepare(conn.dialect, events).write(conn)

    def prepare(self, dialect: Dialect, events: list[StoredEvent]) -> _Prepared:
        """Decode, fold and stage the batch's row changes (no database: before the writer
        turn); the timelines move on here, and `reset` forgets them if the write fails."""
        readings = self.readings()
        writes = _Writes(self.versioned(), self.counted())
        self.history_loaded_at = None
        failures: list[Failure] = []
        for event in events:
            envelope = event.envelope
            reading = readings.get(envelope.aggregate_type)
            if reading is None:
                if envelope.event_type not in self.ignored:
                    failures.append((event, _undeclared(self, envelope.event_type)))
                continue
            try:
                timeline = self._timeline(event, reading)
                changes = Changes()
                timeline.record(recorded(event), changes)
            except Exception as exc:
                failures.append((event, exc))
                continue
            self._cached_events += 1
            writes.stage(changes)
        statements = writes.statements(dialect)
        if writes.corners:
            statements += self.corner_statements(dialect, writes.corners)
        return _Prepared(statements, failures)

    def _timeline(self, event: StoredEvent, reading: Reading) -> Timeline[Any, DomainEvent]:
        e = event.envelope
        key = (e.aggregate_type, e.aggregate_id)
        timeline = self._timelines.get(key)
        if timeline is not None:
            self._timelines.move_to_end(key)
            return timeline
        initial = reading.initial(e.aggregate_id)
        earlier: Sequence[Recorded[DomainEvent]] = ()
        if e.aggregate_version > 1:
            if self.history is None:  # never fold a later event on a made-up beginning
                raise LookupError(
                    f"{self.key} cannot load the earlier events of {e.aggregate_type}/"
                    f"{e.aggregate_id}: its runner gave it no history (ProjectionRunner."
                    "bind_history)"
                )
            context = next(c for c in self.contexts if c.name == e.context)
            earlier = self.history(
                context, e.aggregate_type, e.aggregate_id, event.seq, e.aggregate_version
            )
            self.history_loaded_at = time.time()
        timeline, _refused = replay(
            initial, reading.evolve, reading.image, earlier, reading.patch, reading.commutes
        )  # refused events were parked when they arrived
        self._timelines[key] = timeline
        self._cached_events += len(timeline.events)
        while len(self._timelines) > 1 and (
            len(self._timelines) > self.cache_size or self._cached_events > self.cache_events
        ):
            _, evicted = self._timelines.popitem(last=False)  # never the one just loaded
            self._cached_events -= len(evicted.events)
        return timeline


def decoded(events: Iterable[StoredEvent]) -> Iterable[Recorded[DomainEvent]]:
    """The events a fold can read (the rest were parked when they arrived)."""
    for event in events:
        try:
            yield recorded(event)
        except Exception:  # parked when it arrived: undecodable then, undecodable now
            continue


def _undeclared(projection: Projection, event_type: str) -> LookupError:
    return LookupError(
        f"read model {projection.key} does not declare {event_type}: read it through a fold"
        " or list it as ignored"
    )


@dataclass(frozen=True)
class _Prepared:
    statements: list[Statement]  # values already in the driver's form
    failures: list[Failure]

    def write(self, conn: Connection) -> list[Failure]:
        execute(conn, self.statements)
        return self.failures


class _Writes:
    """The row changes of one batch, written per table in bulk; closes meet inserts in memory.

    A version inserted and closed within the batch is never updated in the database; one
    whose known interval ends up empty is never written at all. Rows are lists in the
    table's column order (the read model's columns, then the four interval columns) and go
    to the driver as tuples (`eventstore.bulk`).
    """

    def __init__(self, tables: dict[str, Table], counted: dict[str, str] | None = None) -> None:
        self._tables = tables
        self._counted = counted or {}
        # A rectangle [valid_from, valid_to) x [known_from, known_to) is four signed corners;
        # the versions holding (D, K) are the corners summed at or before both. An insert
        # adds its two opening corners, a close its two closing ones (an insert closed in
        # the same batch, or a version deleted, cancels out). The open valid end is never
        # reached by a horizon: its corners are not kept.
        self.corners: dict[str, Corners] = {}
        self._columns: dict[str, list[str]] = {}
        for name, table in tables.items():
            columns = [c.name for c in table.c]
            if tuple(columns[-4:]) != INTERVAL_COLUMNS:
                raise ValueError(f"{table.name} does not end with {INTERVAL_COLUMNS}")
            self._columns[name] = columns[:-4]
        self._inserts: dict[str, list[list[Any]]] = {}
        self._open: dict[tuple[str, tuple[Any, ...], int], list[Any]] = {}
        self._closes: dict[str, list[tuple[Any, ...]]] = {}
        self._deletes: dict[str, list[tuple[Any, ...]]] = {}

    def stage(self, changes: Changes) -> None:
        if self._counted:
            self._corners(changes)
        for close in changes.closes:
            (name, key), valid_from = close.key, close.valid_from
            pending = self._open.pop((name, key, valid_from), None)
            if pending is not None:
                pending[-1] = close.known_to
                continue
            if close.known_to <= close.known_from:
                # Known from and to one instant: never visible at any horizon, so gone (a
                # rebuild never writes it, whatever the batches were).
                self._deletes.setdefault(name, []).append((*key, valid_from))
            else:
                self._closes.setdefault(name, []).append((close.known_to, *key, valid_from))
        for version in changes.inserts:
            name, key = version.key
            row = [
                *map(version.row.get, self._columns[name]),
                version.valid_from,
                version.valid_to,
                version.known_from,
                version.known_to,
            ]
            self._inserts.setdefault(name, []).append(row)
            if version.known_to == FOREVER:
                self._open[(name, key, version.valid_from)] = row

    def _corners(self, changes: Changes) -> None:
        counted = self._counted
        for close in changes.closes:
            name = close.key[0]
            column = counted.get(name)
            if column is None:
                continue
            if close.row is None:
                raise ValueError(f"a close of {name} without its version's row: not counted")
            value, corners = close.row.get(column), self.corners.setdefault(name, Counter())
            corners[(value, close.valid_from, close.known_to)] -= 1
            if close.valid_to != FOREVER:
                corners[(value, close.valid_to, close.known_to)] += 1
        for version in changes.inserts:
            name = version.key[0]
            column = counted.get(name)
            if column is None:
                continue
            value, corners = version.row.get(column), self.corners.setdefault(name, Counter())
            corners[(value, version.valid_from, version.known_from)] += 1
            if version.valid_to != FOREVER:
                corners[(value, version.valid_to, version.known_from)] -= 1

    def statements(self, dialect: Dialect) -> list[Statement]:
        """Deletes, then closes, then inserts, per table, parameters in the driver's form."""
        out = [plan(dialect, self._tables[n]).deleting(p) for n, p in self._deletes.items()]
        out += [plan(dialect, self._tables[n]).closing(p) for n, p in self._closes.items()]
        for name, rows in self._inserts.items():
            kept = [r for r in rows if r[-2] < r[-1]]  # known_from < known_to
            out.append(plan(dialect, self._tables[name]).inserting(kept))
        return out

    def flush(self, conn: Connection) -> None:
        execute(conn, self.statements(conn.dialect))
