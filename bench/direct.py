"""A generated history as stored events, without a broker; read models built from them directly.

`stored_events` seals every commit as `EventStore.append` would (`eventstore.records.seal`:
same envelope, version and hash chain, transaction time = the commit's) and numbers each
stream in commit order, as the loader's appends do. `build_read_models` hands them to each
gateway projection through its own runner's batch path (`ProjectionRunner.apply_batch`: one
transaction per batch with the checkpoint), stream by stream: the read models a NATS rebuild
would produce, without reading them back from JetStream. Used where only the read model
matters (the as-of latency suite at 1M events) and for profiling the apply path.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from bench.history.model import History
from contracts_schema.subjects import CONTEXTS
from eventstore.records import AggregateHistory, CommandMetadata, NewEvent, StoredEvent, seal


class _Fixed:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment


def stored_events(history: History) -> dict[str, list[StoredEvent]]:
    """Every event of the history, per stream, in stream order."""
    streams: dict[str, list[StoredEvent]] = {}
    heads: dict[tuple[str, str, str], AggregateHistory] = {}
    for commit in history.commits:
        context = CONTEXTS[commit.context]
        head = heads.get(commit.key) or AggregateHistory(
            context, commit.aggregate_type, commit.aggregate_id, (), 0
        )
        new = [NewEvent(e.event_type, 1, e.payload, e.occurred_at) for e in commit.events]
        meta = CommandMetadata(commit.command_id, commit.actor, commit.command_id)
        events = streams.setdefault(context.stream, [])
        last = None
        for envelope in seal(_Fixed(commit.recorded_at), head, new, meta):
            subject = context.event_subject(
                commit.aggregate_type, commit.aggregate_id, envelope.event_type
            )
            last = StoredEvent(envelope, context.stream, len(events) + 1, subject)
            events.append(last)
        assert last is not None
        heads[commit.key] = AggregateHistory(
            context, commit.aggregate_type, commit.aggregate_id, (last,), last.seq
        )
    return streams


def _batches(events: Sequence[StoredEvent], size: int) -> Iterator[list[StoredEvent]]:
    for first in range(0, len(events), size):
        yield list(events[first : first + size])


@dataclass(frozen=True)
class Built:
    seconds: float
    parked: int
    per_projection: dict[str, float]


def build_read_models(
    engine: Engine, streams: dict[str, list[StoredEvent]], *, batch: int = 500
) -> Built:
    """Every gateway read model from the events, through each runner's own batch path."""
    from bootstrap.parts import projection_runner
    from gateway.projections import ALL

    started = time.perf_counter()
    parked = 0
    per: dict[str, float] = {}
    for kind in ALL:
        t = time.perf_counter()
        runner = projection_runner(None, engine, kind(), batch=batch)  # type: ignore[arg-type]
        runner.create_tables()
        for context in runner.projection.contexts:
            for events in _batches(streams.get(context.stream, []), batch):
                runner.apply_batch(context.stream, events)
        parked += runner.parked_count
        per[runner.projection.key] = time.perf_counter() - t
    return Built(time.perf_counter() - started, parked, per)
