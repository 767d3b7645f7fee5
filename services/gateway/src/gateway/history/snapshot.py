"""The gateway's read models as they stood at (D, K), for answering a query root in the past.

The temporal projection (`audit_history`) keeps every registry and enrolment envelope beside
its row versions. For a past horizon we take the envelopes it had recorded by K that were
true by D, apply them in valid-time order through the gateway's *own* projections into a
scratch in-memory database, and let the unchanged resolvers (filters, keyset paging, nested
connections, DataLoaders, access rules) answer from it. One definition of every read model,
so the past and the present can never disagree on what a field means.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, create_engine, select
from sqlalchemy.pool import StaticPool

from audit.bitemporal import Horizon, visible
from audit.temporal import TemporalProjection
from audit.versions import utc_text
from contracts_schema.envelope import EventEnvelope
from contracts_schema.subjects import CONTEXTS
from eventstore.projection import Projection
from eventstore.store import StoredEvent
from gateway.projections import ALL, EventLogProjection
from gateway.readmodels import ReadModels


class PastUnavailable(Exception):
    """The read models cannot be rebuilt for this horizon; the message says why."""


def _defined(kind: type[Projection], metadata: MetaData) -> Projection:
    projection = kind()
    projection.define(metadata)
    return projection


def _copy_event_log(live: Connection, scratch: Connection, log: Any, at: Horizon) -> None:
    """Events are immutable: the log at (D, K) is the live log cut at both clocks."""
    e, o = log.events, log.organisations
    rows = live.execute(
        select(e).where(e.c.occurred_at <= at.as_of, e.c.recorded_at <= at.known_at)
    ).mappings()
    kept = [dict(r) for r in rows]
    if kept:
        scratch.execute(e.insert(), kept)
    keys = {(r["stream"], r["seq"]) for r in kept}
    links = [dict(r) for r in live.execute(select(o)).mappings() if (r["stream"], r["seq"]) in keys]
    if links:
        scratch.execute(o.insert(), links)


def _envelopes(live: Connection, at: Horizon) -> list[EventEnvelope]:
    history = TemporalProjection.for_queries().events
    texts = live.execute(
        select(history.c.envelope).where(history.c.occurred_at <= utc_text(at.as_of))
    ).scalars()
    return visible((EventEnvelope.model_validate_json(t) for t in texts), at)


def _positions(live: Connection, log: Any) -> dict[str, tuple[str, int]]:
    e = log.events
    return {
        r.event_id: (r.stream, r.seq)
        for r in live.execute(select(e.c.event_id, e.c.stream, e.c.seq))
    }


def build_snapshot(live: Engine, at: Horizon) -> ReadModels:
    metadata = MetaData()
    projections: Sequence[Projection] = [_defined(kind, metadata) for kind in ALL]
    scratch = create_engine(
        "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
    )
    metadata.create_all(scratch)
    log = next(p for p in projections if isinstance(p, EventLogProjection))
    others = [p for p in projections if p is not log]
    with live.connect() as source, scratch.begin() as target:
        envelopes = _envelopes(source, at)
        positions = _positions(source, log)
        _copy_event_log(source, target, log, at)
        for envelope in envelopes:
            context = CONTEXTS[envelope.context]
            stream, seq = positions.get(envelope.event_id, (context.stream, 0))
            subject = context.event_subject(
                envelope.aggregate_type, envelope.aggregate_id, envelope.event_type
            )
            stored = StoredEvent(envelope, stream, seq, subject)
            for projection in others:
                if context not in projection.contexts:
                    continue
                try:
                    projection.apply(target, stored)
                except Exception as exc:
                    raise PastUnavailable(
                        f"the read model {projection.name} cannot be rebuilt for this horizon:"
                        f" event {envelope.event_id} ({envelope.event_type} of"
                        f" {envelope.aggregate_type}/{envelope.aggregate_id}) does not apply"
                        f" in valid-time order: {exc}"
                    ) from exc
    return ReadModels(scratch)
