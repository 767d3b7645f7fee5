"""The event log: every envelope of every stream, with the organisations it concerns."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from sqlalchemy import JSON, Column, Connection, Index, Integer, MetaData, String, Table
from sqlalchemy.engine import Dialect

from contracts_schema.subjects import ENROLMENT, NOTIFIER, REGISTRY, BoundedContext
from eventstore.bulk import Statement, execute, plan
from eventstore.projection import BatchProjection, Failure
from eventstore.store import StoredEvent
from gateway.projections.common import (
    UtcDateTime,
    organisation_codes_in_json,
    sqlite_utc_text,
)

_ENCODED = ("payload", "occurred_at", "recorded_at")  # on SQLite: texts made here


def _same(value: datetime) -> datetime:
    return value


class EventLogProjection(BatchProjection):
    name = "event_log"
    # v2: each event's schema version, so its payload can be read as its current model (a
    # versioned read model's cold timeline folds its history from here: event_log_history).
    version = 2
    contexts: ClassVar[tuple[BoundedContext, ...]] = (REGISTRY, ENROLMENT, NOTIFIER)
    rebuild_cost: ClassVar[int] = 75  # us/event in a rebuild (bench.rebuild_stages, 100k)
    reads_every_event = True

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
            # An organisation's events at a past horizon (asof18): each linked key's times in
            # the index, so the count reads no row and the page reads only the rows that had
            # happened by the date (100k events: the count 1.06 -> 0.27 ms, as the present's).
            Index(f"{p}_events_key_times", "stream", "seq", "occurred_at", "recorded_at"),
        )
        self.organisations = Table(
            f"{p}_event_orgs",
            metadata,
            Column("stream", String(64), primary_key=True),
            Column("seq", Integer, primary_key=True),
            Column("code", String(40), primary_key=True),
            # An organisation's events found from its own links (the filter drives from
            # them), without reading a row of this table.
            Index(f"ix_{p}_event_orgs_code", "code", "stream", "seq"),
        )

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
        rows: list[tuple[object, ...]] = []
        links: list[tuple[object, ...]] = []
        for event in events:
            e = event.envelope
            text = json.dumps(e.payload)
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
                    occurred[e.occurred_at]
                    if e.occurred_at in occurred
                    else occurred.setdefault(e.occurred_at, instant(e.occurred_at)),
                    instant(e.recorded_at),
                    e.actor,
                    e.command_id,
                    e.correlation_id,
                    text if encode_here else e.payload,
                )
            )
            codes = organisation_codes_in_json(text)
            if e.aggregate_type == "organisation":
                codes.add(e.aggregate_id)
            links.extend((event.stream, event.seq, c) for c in codes)
        # One statement per table for the whole batch (many rows as parameters).
        raw = _ENCODED if encode_here else ()
        return _Rows(
            [
                plan(dialect, self.events, raw=raw).inserting(rows),
                plan(dialect, self.organisations).inserting(links),
            ]
        )


@dataclass(frozen=True)
class _Rows:
    statements: list[Statement]

    def write(self, conn: Connection) -> list[Failure]:
        execute(conn, self.statements)
        return []
