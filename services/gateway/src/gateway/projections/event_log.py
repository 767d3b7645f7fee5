"""The event log: every envelope of every stream, with the organisations it concerns.

v3 (asof21): an organisation's events at any horizon read a bounded number of rows. Each
link (event, organisation code) carries its event's `recorded_at` and the instant it happened
(`happened`, µs: an integer, a third of the text's bytes in the link and its two indexes), and
an index `(code, recorded_at, stream, seq, happened)` lists a code's events in the log's
order with the instant each happened: a page walks the code's links in order, tests the
valid instant in the index and stops at its last row (before, every linked event was read
and sorted by `recorded_at`). Per code, the links are counted by the valid instant as known
now (`OrganisationCounts`): events are immutable, so a link adds one to its week and to its
week's block and nothing is ever re-derived (a backdated event adds to its own week).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    func,
    select,
)
from sqlalchemy.engine import Dialect

from contracts_schema.subjects import ENROLMENT, NOTIFIER, REGISTRY, BoundedContext
from eventstore.bitemporal_sql import micros
from eventstore.bulk import Statement, execute, plan
from eventstore.projection import BatchProjection, Failure
from eventstore.store import StoredEvent
from gateway.projections.common import (
    UtcDateTime,
    organisation_codes_in_json,
    sqlite_utc_text,
)
from gateway.projections.count_sql import adding, floor_div
from gateway.projections.event_counts import BUCKET, bucket

_ENCODED = ("payload", "occurred_at", "recorded_at")  # on SQLite: texts made here
_LINK_TIMES = ("recorded_at",)
# The first version whose links carry their event's instants and are counted per code.
LINK_TIMES_SINCE = 3
# Weeks per block of the per-code counts: a count at D sums the code's blocks before D's
# (one row per ~1.2 years with events) and the weeks of D's block before D's week (< 64).
BLOCK = 64


def _same(value: datetime) -> datetime:
    return value


class EventLogProjection(BatchProjection):
    name = "event_log"
    # v2: each event's schema version, so its payload can be read as its current model (a
    # versioned read model's cold timeline folds its history from here: event_log_history).
    # v3 (asof21): the links carry their event's instants, in the log's order per code, and
    # are counted per code by valid week (the module's docstring).
    version = 3
    contexts: ClassVar[tuple[BoundedContext, ...]] = (REGISTRY, ENROLMENT, NOTIFIER)
    rebuild_cost: ClassVar[int] = 75  # us/event in a rebuild (bench.rebuild_stages, 100k)
    reads_every_event = True
    # A rebuild from nothing may leave the per-code counts out of its batches and count the
    # finished links once at its end (`derived`): upserted per batch, the weeks' statement
    # alone was ~14 us/event of write wall at 100k, the log's costliest after its events
    # (rebuild23). Every link adds one, so the counts are a function of the links.
    defers_derived = True

    def define(self, metadata: MetaData) -> None:
        p = self.key
        self.events = Table(
            f"{p}_events",
            metadata,
            Column("stream", String(64), primary_key=True),
            Column("seq", Integer, primary_key=True),
            Column("event_id", String(64), nullable=False, unique=True),
            Column("event_type", String(120), nullable=False, index=True),
            Column("schema_version", Integer, nullable=False),
            Column("context", String(64), nullable=False),
            Column("aggregate_type", String(64), nullable=False),
            Column("aggregate_id", String(128), nullable=False),
            Column("aggregate_version", Integer, nullable=False),
            Column("occurred_at", UtcDateTime, nullable=False),
            Column("recorded_at", UtcDateTime, nullable=False),
            Column("actor", String(200), nullable=False),
            Column("command_id", String(128), nullable=False),
            Column("correlation_id", String(128), nullable=False),
            Column("payload", JSON, nullable=False),
            Index(f"{p}_events_order", "recorded_at", "stream", "seq"),
            Index(f"{p}_events_aggregate", "aggregate_type", "aggregate_id"),
            # The log at a past horizon: its count a range of this index (happened by the
            # valid date, recorded by the known instant), not a scan of the table (1M: 0.4 s).
            Index(f"{p}_events_horizon", "occurred_at", "recorded_at"),
            *self._key_times(),
        )
        self.organisations = Table(
            f"{p}_event_orgs",
            metadata,
            Column("stream", String(64), primary_key=True),
            Column("seq", Integer, primary_key=True),
            Column("code", String(40), primary_key=True),
            *self._links(),
        )
        self.counts = (
            OrganisationCounts(f"{p}_org", metadata) if self.version >= LINK_TIMES_SINCE else None
        )

    def _key_times(self) -> list[Index]:
        if self.version >= LINK_TIMES_SINCE:
            return []  # the links carry the instants (v3)
        # An organisation's events at a past horizon (asof18): each linked key's times in the
        # index, so the count reads no row and the page reads only the rows that had happened
        # by the date (100k events: the count 1.06 -> 0.27 ms, as the present's).
        p = self.key
        return [Index(f"{p}_events_key_times", "stream", "seq", "occurred_at", "recorded_at")]

    def _links(self) -> list[Column[Any] | Index]:
        p = f"{self.key}_event_orgs"
        if self.version < LINK_TIMES_SINCE:
            # An organisation's events found from its own links (an index by code holding the
            # event's key), without reading a row of this table.
            return [Index(f"ix_{p}_code", "code", "stream", "seq")]
        return [
            Column("happened", BigInteger, nullable=False),  # the event's occurred_at, µs
            Column("recorded_at", UtcDateTime, nullable=False),
            # A code's events in the log's order, each with the instant it happened: a page
            # walks them in order and stops at its last row; the present's count too.
            Index(f"ix_{p}_code_order", "code", "recorded_at", "stream", "seq", "happened"),
            # A code's events of one week by the instant they happened (the count's strip).
            Index(f"ix_{p}_code_happened", "code", "happened"),
        ]

    def apply_batch(self, conn: Connection, events: list[StoredEvent]) -> list[Failure]:
        return self.prepare(conn.dialect, events).write(conn)

    def prepare(self, dialect: Dialect, events: list[StoredEvent]) -> _Rows:
        """The rows of the batch, built before the runner's transaction (no database)."""
        # The payload is JSON-encoded once: the organisation codes are found in that text, and
        # on SQLite the same text is the column's value (SQLAlchemy's JSON type stores
        # `json.dumps(payload)` there too), as are the two instants' texts; PostgreSQL's
        # driver takes the values as they are.
        encode_here = dialect.name == "sqlite"
        instant = sqlite_utc_text if encode_here else _same
        # Many events share an occurred_at (a story's day): its text is made once per batch.
        occurred: dict[datetime, object] = {}
        moments: dict[datetime, int] = {}  # the same in µs (the links')
        rows: list[tuple[object, ...]] = []
        links: list[tuple[object, ...]] = []
        timed = self.counts is not None
        counting = timed and not self.deferring  # deferred: counted from the links at the end
        weeks: Counter[tuple[str, int]] = Counter()
        for event in events:
            e = event.envelope
            text = json.dumps(e.payload)
            happened = (
                occurred[e.occurred_at]
                if e.occurred_at in occurred
                else occurred.setdefault(e.occurred_at, instant(e.occurred_at))
            )
            recorded = instant(e.recorded_at)
            rows.append(
                (
                    event.stream,
                    event.seq,
                    e.event_id,
                    e.event_type,
                    e.schema_version,
                    e.context,
                    e.aggregate_type,
                    e.aggregate_id,
                    e.aggregate_version,
                    happened,
                    recorded,
                    e.actor,
                    e.command_id,
                    e.correlation_id,
                    text if encode_here else e.payload,
                )
            )
            codes = organisation_codes_in_json(text)
            if e.aggregate_type == "organisation":
                codes.add(e.aggregate_id)
            if not timed:
                links.extend((event.stream, event.seq, c) for c in codes)
                continue
            if codes:
                moment = moments.get(e.occurred_at)
                if moment is None:
                    moment = moments[e.occurred_at] = micros(e.occurred_at)
                links.extend((event.stream, event.seq, c, moment, recorded) for c in codes)
                if not counting:
                    continue
                week = bucket(moment)
                for c in codes:
                    weeks[(c, week)] += 1
        # One statement per table for the whole batch (many rows as parameters).
        raw = _ENCODED if encode_here else ()
        statements = [
            plan(dialect, self.events, raw=raw).inserting(rows),
            plan(
                dialect, self.organisations, raw=_LINK_TIMES if encode_here and timed else ()
            ).inserting(links),
        ]
        if self.counts is not None and counting:
            statements.extend(self.counts.statements(dialect, weeks))
        return _Rows(statements)

    def derived(self, dialect: Dialect) -> list[Statement]:
        """The per-code counts of every link, into their empty tables (while `deferring`
        the batches wrote the links alone): the rows the batches would have kept."""
        if self.counts is None:
            return []
        return self.counts.derived(dialect, self.organisations)


@dataclass(frozen=True)
class _Rows:
    statements: list[Statement]

    def write(self, conn: Connection) -> list[Failure]:
        execute(conn, self.statements)
        return []


class OrganisationCounts:
    """A code's links counted by the week their event happened in, and by block of `BLOCK`
    weeks (weeks numbered as `event_counts` numbers them, from the epoch, floor division).

    Events are immutable and only added, and every event is known now once recorded, so the
    code's events that had happened by D as known now are: its blocks before D's block, the
    weeks of D's block before D's week, and D's own week's links by D (a range of the links'
    `(code, happened)` index): at most a block row per ~1.2 years with events, 63 week
    rows and one week's links, whatever the history's length. Every link adds one to its
    week and its block (a batch's additions summed first, one multi-row upsert each); no
    row is re-derived. A past known instant is not kept here: its rows are counted."""

    def __init__(self, prefix: str, metadata: MetaData) -> None:
        self.blocks = Table(
            f"{prefix}_blocks",
            metadata,
            Column("code", String(40), primary_key=True),
            Column("block", BigInteger, primary_key=True),
            Column("n", Integer, nullable=False),
            sqlite_with_rowid=False,  # a sum reads the primary key's b-tree alone
        )
        self.weeks = Table(
            f"{prefix}_weeks",
            metadata,
            Column("code", String(40), primary_key=True),
            Column("week", BigInteger, primary_key=True),
            Column("n", Integer, nullable=False),
            sqlite_with_rowid=False,
        )

    def statements(self, dialect: Dialect, weeks: Counter[tuple[str, int]]) -> list[Statement]:
        if not weeks:
            return []
        blocks: Counter[tuple[str, int]] = Counter()
        for (code, week), n in weeks.items():
            blocks[(code, week // BLOCK)] += n
        return [
            Statement(adding(dialect, self.weeks), [(c, w, n) for (c, w), n in weeks.items()]),
            Statement(adding(dialect, self.blocks), [(c, b, n) for (c, b), n in blocks.items()]),
        ]

    def derived(self, dialect: Dialect, links: Table) -> list[Statement]:
        """Every link counted by its code and week, then the weeks by block: what the
        batches' additions sum to (a link adds one to its week, a week to its block; no
        count is ever zero). Weeks and blocks by floor division, as `bucket`."""
        quote = dialect.identifier_preparer.quote
        weeks, blocks = (
            dialect.identifier_preparer.format_table(t) for t in (self.weeks, self.blocks)
        )
        week = floor_div(quote("happened"), BUCKET)
        once: list[tuple[object, ...]] = [()]
        return [
            Statement(
                f"INSERT INTO {weeks} (code, week, n) SELECT code, {week}, count(*)"
                f" FROM {dialect.identifier_preparer.format_table(links)} GROUP BY code, {week}",
                once,
            ),
            Statement(
                f"INSERT INTO {blocks} (code, block, n) SELECT code, {floor_div('week', BLOCK)},"
                f" sum(n) FROM {weeks} GROUP BY code, {floor_div('week', BLOCK)}",
                once,
            ),
        ]

    def count(self, links: Table, code: Any, *, present: bool) -> Any:
        """The code's (`code`, a bound parameter) events that had happened by the valid
        instant as known now (`parameters`); at the present every event of the code (its
        blocks summed: the log's present holds every event, whenever it happened)."""
        blocks, weeks = self.blocks, self.weeks
        before_blocks = select(func.coalesce(func.sum(blocks.c.n), 0)).where(blocks.c.code == code)
        if present:
            return select(before_blocks.scalar_subquery())
        before_blocks = before_blocks.where(blocks.c.block < bindparam(COUNT_BLOCK))
        block_weeks = select(func.coalesce(func.sum(weeks.c.n), 0)).where(
            weeks.c.code == code,
            weeks.c.week >= bindparam(COUNT_BLOCK_WEEK),
            weeks.c.week < bindparam(COUNT_WEEK),
        )
        strip = select(func.count()).where(
            links.c.code == code,
            links.c.happened >= bindparam(COUNT_WEEK_START),
            links.c.happened <= bindparam(COUNT_VALID),
        )
        return select(
            before_blocks.scalar_subquery()
            + block_weeks.scalar_subquery()
            + strip.scalar_subquery()
        )


COUNT_BLOCK, COUNT_BLOCK_WEEK, COUNT_WEEK = "org_block", "org_block_week", "org_week"
COUNT_WEEK_START, COUNT_VALID = "org_week_start", "org_valid"


def count_parameters(valid: int) -> dict[str, Any]:
    """`OrganisationCounts.count`'s parameters at the valid instant `valid` (µs)."""
    week = bucket(valid)
    return {
        COUNT_BLOCK: week // BLOCK,
        COUNT_BLOCK_WEEK: (week // BLOCK) * BLOCK,
        COUNT_WEEK: week,
        COUNT_WEEK_START: week * BUCKET,
        COUNT_VALID: valid,
    }
