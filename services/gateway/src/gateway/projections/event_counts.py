"""How many events the log held at a horizon, kept as counts instead of counted per request.

The event log at a past horizon is the events that had happened by the valid instant D and
were known by the known instant K (`readmodels.known_by_horizon`: an event is known once it
and every earlier version of its aggregate were recorded). Its `totalCount` is a count over
two dimensions, which no single index makes a short range: counting the rows grew with the
history (100k events: 3.3x the 10k time; knownAt with the known-time probe per row ~1.4 s).

Events are immutable and only ever added, so the bitemporal form of their count is a grid
over (week of the valid instant, week of the known instant). A backdated or late-known event
adds one to its own cell; nothing is re-derived. The count at (D, K) is the cells wholly
before both weeks (D's and K's) plus the events of the two edge strips counted exactly
(`EventCounts.statement`): those that happened in D's week, and those that became known in
K's week.

v2 (asof19): the cells are kept as a two-dimensional Fenwick tree (`tree`): node (i, j)
holds the events of the weeks (i - lowbit(i), i] x (j - lowbit(j), j] (weeks numbered from
0001-01-01's). The cells before D's and K's weeks are the nodes of D's chain x K's chain,
at most `LEVELS` x `LEVELS` primary-key seeks whatever the history's length or density (v1
summed every cell before both: 11,246 of them at 100k generated events, 939 at 10k: the
as-of query at a known instant grew with the history). Known now, K's chain is the root
alone: at most `LEVELS` seeks (v1: one row per week before D). An event adds to the nodes
of its week's upward chains (~10 x ~10). The strips still grow with the events per week.

v3 (asof24e): the edge strips are one day each, not one week. The tree still sums the weeks
wholly before D's and K's; the days of D's week before D's day, and of K's week before K's
day, are summed from stored cells of (valid day, known day) (`days`: one row per pair of
days with events, no tree: a day's events are known over a few days, so its rows are few,
whatever the history's length), and only D's day and K's day are counted from the log
(1M generated events: ~140 a day against ~960 a week). Written as the tree: a batch's
cells summed, one multi-row upsert.

The edge strips are counted from the event log's own indexes by `recorded_at`; an event
recorded before an earlier version of its aggregate (a legacy history recorded backwards)
is known later than it was recorded, and only such events are kept in `late`, with the
instant they became known, to correct those counts. A history recorded by the rule
(`records.recorded_after`) leaves `late` empty. `aggregates` holds, per aggregate, the
instant its latest version became known (the running maximum of its versions' recording):
what the next version is compared with.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import ClassVar

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    select,
)
from sqlalchemy.engine import Dialect

from contracts_schema.subjects import ENROLMENT, NOTIFIER, REGISTRY, BoundedContext
from eventstore.bitemporal_sql import instant, micros
from eventstore.bulk import Statement
from eventstore.projection import BatchProjection, Failure
from eventstore.store import StoredEvent
from gateway.projections.count_sql import adding, inserting, replacing

# A day of microseconds: the cells of `days` (v3), whose strips are a day's events.
DAY = 86_400 * 1_000_000
DAY_CELLS_SINCE = 3
# A week of microseconds: the grid's cells. Narrower cells mean fewer events on the two edges
# to count; at 1M generated events over ~16 years a week is ~1,200 events.
BUCKET = 7 * DAY
LOOKUP_CHUNK = 500  # aggregates asked per statement (well under any driver's parameter cap)
# The tree's height: 2^19 weeks from 0001-01-01's (to the year ~10,050) in each dimension.
LEVELS = 19
SIZE = 1 << LEVELS


def bucket(moment: int) -> int:
    """The cell of an instant (µs since the epoch); floor division, so before 1970 too."""
    return moment // BUCKET


def day(moment: int) -> int:
    """The day of an instant (µs since the epoch, floor division): weeks are 7 of them, the
    first day of week w is day 7w."""
    return moment // DAY


EARLIEST = micros(datetime(1, 1, 1, tzinfo=UTC))
ORIGIN = bucket(EARLIEST) - 1  # the week of 0001-01-01 is the tree's week 1


def place(cell: int) -> int:
    """A week's number in the tree (1 ... SIZE): every week a datetime can fall in."""
    return min(max(cell - ORIGIN, 1), SIZE)


def upward(i: int) -> list[int]:
    """The nodes whose ranges hold week i: where an event of that week is added."""
    out = []
    while i <= SIZE:
        out.append(i)
        i += i & -i
    return out


def downward(i: int) -> list[int]:
    """The nodes whose ranges make up weeks 1 ... i, disjoint: what a prefix sums."""
    out = []
    while i > 0:
        out.append(i)
        i -= i & -i
    return out


def chain_parameters(prefix: str, nodes: list[int]) -> dict[str, int]:
    """A chain as the count statement's `LEVELS` parameters, padded with node 0 (none)."""
    return {f"{prefix}_{x}": nodes[x] if x < len(nodes) else 0 for x in range(LEVELS)}


def aggregate_key(context: str, aggregate_type: str, aggregate_id: str) -> str:
    return f"{context}\x1f{aggregate_type}\x1f{aggregate_id}"


class EventCountsProjection(BatchProjection):
    name = "event_counts"
    # v2 (asof19): the cells and the weeks' sums replaced by a Fenwick tree of the cells.
    # v3 (asof24e): cells of (valid day, known day) beside the tree: the strips a day each.
    version: ClassVar[int] = 3
    contexts: ClassVar[tuple[BoundedContext, ...]] = (REGISTRY, ENROLMENT, NOTIFIER)
    # us/event in a rebuild (`bench.rebuild_stages 100000 --derive-at-end`; 26 per batch)
    rebuild_cost: ClassVar[int] = 11
    reads_every_event = True  # counts envelopes as the event log keeps them, whatever type
    # A rebuild from nothing (a split rebuild's group on its fresh file) counts in memory and
    # writes the tree, the late events and the aggregates' instants once at its end
    # (`derived`): per batch, the aggregates' lookup, the tree's upserts (every cell adds to
    # ~19 x ~19 nodes) and the instants' replace were ~30 us/event of CPU at 100k, the
    # enrolment group's costliest after enrolment itself (rebuild24). The counts only add,
    # so the sums over the whole rebuild are the rows the batches would have kept.
    defers_derived = True

    def __init__(self) -> None:
        super().__init__()
        self._counted = _Counted()

    def define(self, metadata: MetaData) -> None:
        p = self.key
        # The grid's cells as a two-dimensional Fenwick tree (the module's docstring).
        self.tree = Table(
            f"{p}_tree",
            metadata,
            Column("v", Integer, primary_key=True),
            Column("k", Integer, primary_key=True),
            Column("n", Integer, nullable=False),
            sqlite_with_rowid=False,  # the sum reads the primary key's b-tree alone
        )
        # v3: the events per (valid day, known day); the index sums a known day's cells
        # before a valid day (K's strip), the key a valid day's before a known day (D's).
        self.days: Table | None = None
        if self.version >= DAY_CELLS_SINCE:
            self.days = Table(
                f"{p}_days",
                metadata,
                Column("v", Integer, primary_key=True),
                Column("k", Integer, primary_key=True),
                Column("n", Integer, nullable=False),
                Index(f"ix_{p}_days_known", "k", "v", "n"),
                sqlite_with_rowid=False,
            )
        self.aggregates = Table(
            f"{p}_aggregates",
            metadata,
            Column("aggregate", String(300), primary_key=True),
            Column("known_from", BigInteger, nullable=False),
        )
        self.late = Table(
            f"{p}_late",
            metadata,
            Column("stream", String(64), primary_key=True),
            Column("seq", Integer, primary_key=True),
            Column("occurred_at", BigInteger, nullable=False),
            Column("recorded_at", BigInteger, nullable=False),
            Column("known_from", BigInteger, nullable=False),
            Index(f"ix_{p}_late_occurred", "occurred_at"),
            Index(f"ix_{p}_late_recorded", "recorded_at"),
            Index(f"ix_{p}_late_known", "known_from"),
        )

    def apply_batch(self, conn: Connection, events: list[StoredEvent]) -> list[Failure]:
        if self.deferring:
            self._counted.add(events)
            return []
        keys = [
            aggregate_key(e.envelope.context, e.envelope.aggregate_type, e.envelope.aggregate_id)
            for e in events
        ]
        # Read from the table each batch, not kept in memory between batches: the same
        # instance may write into another database (a blue-green rebuild), and one lookup
        # by key per batch costs little beside the batch's writes.
        known_at = self._load(conn, set(keys))
        cells: Counter[tuple[int, int]] = Counter()
        days: Counter[tuple[int, int]] = Counter()
        late: list[tuple[object, ...]] = []
        touched: dict[str, int] = {}
        for event, key in zip(events, keys, strict=True):
            e = event.envelope
            recorded = micros(e.recorded_at)
            before = known_at.get(key)
            # Known once it and every earlier version were recorded: the running maximum
            # (the stream holds an aggregate's versions in order).
            known = recorded if before is None or before <= recorded else before
            occurred = micros(e.occurred_at)
            cells[(bucket(occurred), bucket(known))] += 1
            days[(day(occurred), day(known))] += 1
            if known != recorded:
                late.append((event.stream, event.seq, occurred, recorded, known))
            known_at[key] = touched[key] = known
        _write(conn, self, nodes(cells), late, touched, days)
        return []

    def derived(self, dialect: Dialect) -> list[Statement]:
        """What the batches counted in memory while `deferring`, into the empty tables: the
        tree's nodes of every cell, the day cells (v3), the late events, each aggregate's
        latest known instant."""
        counted, self._counted = self._counted, _Counted()
        tree = summed_nodes(counted.cells)
        out = [Statement(inserting(dialect, self.tree), tree)] if tree else []
        if counted.days and self.days is not None:  # v3's day cells, as `_write` adds them
            rows = [(v, k, n) for (v, k), n in counted.days.items()]
            out.append(Statement(inserting(dialect, self.days), rows))
        if counted.late:
            out.append(Statement(inserting(dialect, self.late), counted.late))
        if counted.known_at:
            out.append(
                Statement(inserting(dialect, self.aggregates), list(counted.known_at.items()))
            )
        return out

    def _load(self, conn: Connection, keys: set[str]) -> dict[str, int]:
        """The stored known instant of these aggregates' latest versions (absent: none yet)."""
        found: dict[str, int] = {}
        a = self.aggregates
        asked = sorted(keys)
        query = select(a.c.aggregate, a.c.known_from).where(
            a.c.aggregate.in_(bindparam("keys", expanding=True))
        )
        for first in range(0, len(asked), LOOKUP_CHUNK):
            chunk = asked[first : first + LOOKUP_CHUNK]
            for key, known in conn.execute(query, {"keys": chunk}):
                found[key] = int(known)
        return found


class _Counted:
    """A deferring rebuild's counts so far (`EventCountsProjection.derived` writes them).

    Kept outside any transaction, so a batch is counted once however often it is applied:
    each stream's events up to `seen` are counted already (a batch whose transaction did not
    commit is applied again: its events are skipped here, the way the runner's checkpoint
    skips redeliveries; every event a deferring runner is handed is taken, none parked, so
    what was counted is what the rebuild applies)."""

    def __init__(self) -> None:
        self.cells: Counter[tuple[int, int]] = Counter()
        self.days: Counter[tuple[int, int]] = Counter()
        self.late: list[tuple[object, ...]] = []
        self.known_at: dict[str, int] = {}
        self.seen: dict[str, int] = {}

    def add(self, events: list[StoredEvent]) -> None:
        if not events:
            return
        stream = events[0].stream
        seen = self.seen.get(stream, 0)
        fresh = [e for e in events if e.seq > seen]
        if not fresh:
            return
        cells, days = Counter[tuple[int, int]](), Counter[tuple[int, int]]()
        late, known_at = [], self.known_at
        touched: dict[str, int] = {}  # this batch's instants: applied when all is counted
        for event in fresh:
            e = event.envelope
            key = aggregate_key(e.context, e.aggregate_type, e.aggregate_id)
            recorded = micros(e.recorded_at)
            before = touched.get(key, known_at.get(key))
            known = recorded if before is None or before <= recorded else before
            occurred = micros(e.occurred_at)
            cells[(bucket(occurred), bucket(known))] += 1
            days[(day(occurred), day(known))] += 1
            if known != recorded:
                late.append((event.stream, event.seq, occurred, recorded, known))
            touched[key] = known
        self.cells.update(cells)
        self.days.update(days)
        self.late.extend(late)
        known_at.update(touched)
        self.seen[stream] = fresh[-1].seq


def nodes(cells: Counter[tuple[int, int]]) -> Counter[tuple[int, int]]:
    """The tree's nodes a batch's cells add to, with what each adds."""
    out: Counter[tuple[int, int]] = Counter()
    chains: dict[int, list[int]] = {}  # a week's upward chain, the same in both dimensions
    for (valid_bucket, known_bucket), n in cells.items():
        for week in (valid_bucket, known_bucket):
            if week not in chains:
                chains[week] = upward(place(week))
        ks = chains[known_bucket]
        for i in chains[valid_bucket]:
            for j in ks:
                out[(i, j)] += n
    return out


_BITS = LEVELS + 1  # a node's number in one dimension fits (1 ... SIZE)
_LOW = (1 << _BITS) - 1


def summed_nodes(cells: Counter[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """`nodes` of many cells at once, as rows (v, k, n): the tree is separable, so each
    cell is added up its known week's chain first and each of those sums up its valid
    week's chain then (~2 x 19 additions a cell and a partial sum, against 19 x 19 a cell;
    the keys packed in one int). A deferring rebuild's whole history: 100k generated
    events, 24k cells, 1.0 s with `nodes`, 0.24 s here (rebuild24)."""
    known_chains: dict[int, list[int]] = {}
    half: dict[int, int] = {}  # (valid place, known node) -> sum
    get = half.get
    for (valid_bucket, known_bucket), n in cells.items():
        chain = known_chains.get(known_bucket)
        if chain is None:
            chain = known_chains[known_bucket] = upward(place(known_bucket))
        high = place(valid_bucket) << _BITS
        for j in chain:
            key = high | j
            half[key] = get(key, 0) + n
    valid_chains: dict[int, list[int]] = {}
    out: dict[int, int] = {}
    put = out.get
    for key, n in half.items():
        high = key >> _BITS
        chain = valid_chains.get(high)
        if chain is None:
            chain = valid_chains[high] = [i << _BITS for i in upward(high)]
        j = key & _LOW
        for i in chain:
            node = i | j
            out[node] = put(node, 0) + n
    return [(node >> _BITS, node & _LOW, n) for node, n in out.items()]


def _write(
    conn: Connection,
    projection: EventCountsProjection,
    tree: Counter[tuple[int, int]],
    late: list[tuple[object, ...]],
    touched: dict[str, int],
    days: Counter[tuple[int, int]],
) -> None:
    """The batch's counts added to the tree's nodes and the day cells, its late events, its
    aggregates' instants: one multi-row statement each."""
    dialect = conn.dialect
    if tree:
        rows = [(v, k, n) for (v, k), n in tree.items()]
        conn.exec_driver_sql(adding(dialect, projection.tree), rows)
    if days and projection.days is not None:
        rows = [(v, k, n) for (v, k), n in days.items()]
        conn.exec_driver_sql(adding(dialect, projection.days), rows)
    if late:
        conn.exec_driver_sql(inserting(dialect, projection.late), late)
    if touched:
        conn.exec_driver_sql(replacing(dialect, projection.aggregates), list(touched.items()))


def _start(cell: int) -> datetime | None:
    """Where a cell starts, as an instant; the first representable one for the cell of
    0001-01-02 (the earliest horizon asked: its week starts in year 0). Exact: nothing
    happened or was recorded before it."""
    return instant(max(cell * BUCKET, EARLIEST))


def horizon_buckets(
    valid_at: datetime, known_at: datetime | None, days: bool = False
) -> dict[str, object]:
    """The count statement's own parameters for a horizon: D's cell and where it starts, and
    K's (None: known now, every event counted whenever it became known), in microseconds
    of the same instants the log is compared with; and the tree's nodes before each
    (`count_v_*`, `count_k_*`: known now, the root, which holds every week).

    `days` (v3): the strips start at D's day and K's day (`count_valid_start`, ...), and
    the day cells are asked from the first day of D's week (`count_valid_week_day`) to D's
    day (`count_valid_day`), and likewise K's."""
    valid = micros(valid_at)
    out: dict[str, object] = {
        "count_valid": valid,
        "count_valid_bucket": bucket(valid),
        "count_valid_start": bucket(valid) * BUCKET,
        "count_valid_start_at": _start(bucket(valid)),
        **chain_parameters("count_v", downward(place(bucket(valid)) - 1)),
        **chain_parameters("count_k", [SIZE]),
    }
    if days:
        out |= _days("valid", valid)
    if known_at is not None:
        known = micros(known_at)
        out |= {
            "count_known": known,
            "count_known_bucket": bucket(known),
            "count_known_start": bucket(known) * BUCKET,
            "count_known_start_at": _start(bucket(known)),
            **chain_parameters("count_k", downward(place(bucket(known)) - 1)),
        }
        if days:
            out |= _days("known", known)
    return out


def _days(name: str, moment: int) -> dict[str, object]:
    """A horizon's instant's day (the strip's start) and its week's first day, in days."""
    return {
        f"count_{name}_start": day(moment) * DAY,
        f"count_{name}_start_at": instant(max(day(moment) * DAY, EARLIEST)),
        f"count_{name}_day": day(moment),
        f"count_{name}_week_day": bucket(moment) * 7,
    }
