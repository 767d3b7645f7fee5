"""The event log: every envelope of every stream, with the organisations it concerns."""

from __future__ import annotations

from typing import ClassVar

from sqlalchemy import JSON, Column, Connection, Index, Integer, MetaData, String, Table

from contracts_schema.subjects import ENROLMENT, NOTIFIER, REGISTRY, BoundedContext
from eventstore.projection import BatchProjection, Failure, bulk_insert
from eventstore.store import StoredEvent
from gateway.projections.common import UtcDateTime, organisation_codes_in


class EventLogProjection(BatchProjection):
    name = "event_log"
    contexts: ClassVar[tuple[BoundedContext, ...]] = (REGISTRY, ENROLMENT, NOTIFIER)
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
        )
        self.organisations = Table(
            f"{p}_event_orgs",
            metadata,
            Column("stream", String(64), primary_key=True),
            Column("seq", Integer, primary_key=True),
            Column("code", String(40), primary_key=True, index=True),
        )

    def apply_batch(self, conn: Connection, events: list[StoredEvent]) -> list[Failure]:
        rows: list[dict[str, object]] = []
        links: list[dict[str, object]] = []
        for event in events:
            e = event.envelope
            rows.append(
                {
                    "stream": event.stream,
                    "seq": event.seq,
                    "event_id": e.event_id,
                    "event_type": e.event_type,
                    "context": e.context,
                    "aggregate_type": e.aggregate_type,
                    "aggregate_id": e.aggregate_id,
                    "aggregate_version": e.aggregate_version,
                    "occurred_at": e.occurred_at,
                    "recorded_at": e.recorded_at,
                    "actor": e.actor,
                    "command_id": e.command_id,
                    "correlation_id": e.correlation_id,
                    "payload": e.payload,
                }
            )
            codes = organisation_codes_in(e.payload)
            if e.aggregate_type == "organisation":
                codes.add(e.aggregate_id)
            links.extend({"stream": event.stream, "seq": event.seq, "code": c} for c in codes)
        # One statement per table for the whole batch (many rows as parameters).
        bulk_insert(conn, self.events, rows)
        bulk_insert(conn, self.organisations, links)
        return []
