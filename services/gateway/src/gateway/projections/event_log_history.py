"""A versioned read model's cold timeline folded from the event log beside it.

After a restart (or an eviction from its cache) a versioned read model folds an aggregate's
earlier events before it applies the next one. From the event store that is a wildcard read
of the aggregate from sequence 1, which the broker answers by walking the stream's blocks
(40-140 ms of the freshness suite's slowest probes, and a round trip through the projector's
busy loop). The event log, a read model of the same database, already holds each event's
envelope fields, written only after its runner's trust check: one indexed query in the
applying thread.

It is used only when it holds the whole history: the rows before the event being applied
must be versions 1, 2, ... up to the one before it, gap-free (an aggregate's versions are,
`EventEnvelope.aggregate_version`). The event log may be behind the read model (it commits
on its own), or have parked an event (refused, or refused by the database); then the event
store answers, as before.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, select

from contracts_schema.base import DomainEvent
from contracts_schema.subjects import BoundedContext
from eventstore.projection import ProjectionRunner
from eventstore.timeline import Recorded
from eventstore.versioned import VersionedProjection, recorded_row
from gateway.projections.event_log import EventLogProjection


class EventLogHistory:
    """`eventstore.versioned.LocalHistory` from an event log's table."""

    def __init__(self, log: EventLogProjection) -> None:
        t = log.events
        self._query = select(
            t.c.seq,
            t.c.event_type,
            t.c.schema_version,
            t.c.payload,
            t.c.occurred_at,
            t.c.recorded_at,
            t.c.aggregate_version,
        ).order_by(t.c.seq)
        self._t = t

    def __call__(
        self,
        conn: Connection,
        context: BoundedContext,
        aggregate_type: str,
        aggregate_id: str,
        before: int,
        version: int,
    ) -> list[tuple[int, Recorded[DomainEvent]]] | None:
        c = self._t.c
        rows = conn.execute(
            self._query.where(
                c.aggregate_type == aggregate_type,  # the (aggregate_type, aggregate_id) index
                c.aggregate_id == aggregate_id,
                c.stream == context.stream,
                c.seq < before,
            )
        ).all()
        if [row.aggregate_version for row in rows] != list(range(1, version)):
            return None  # not all of it here (yet): the event store answers
        earlier: list[tuple[int, Recorded[DomainEvent]]] = []
        for row in rows:
            try:
                event = recorded_row(
                    row.event_type,
                    row.schema_version,
                    row.payload,
                    row.occurred_at,
                    row.recorded_at,
                    row.aggregate_version,
                )
            except Exception:  # undecodable: parked when it arrived, as from the event store
                continue
            earlier.append((row.seq, event))
        return earlier


def fold_histories_from_the_event_log(runners: Sequence[ProjectionRunner]) -> None:
    """Give every versioned read model applied here the event log's history when the event
    log is applied here too, into the same database (a follower applies nothing)."""
    for log in runners:
        if isinstance(log.projection, EventLogProjection) and not log.follow:
            history = EventLogHistory(log.projection)
            for runner in runners:
                if (
                    isinstance(runner.projection, VersionedProjection)
                    and not runner.follow
                    and runner.engine is log.engine
                ):
                    runner.local_history = history
            return
