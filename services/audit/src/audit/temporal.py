"""The temporal projection: bitemporal row versions of every registry and enrolment entity.

It keeps each entity's envelopes beside its versions so that a backdated event re-derives
that entity alone, inside the runner's transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, Text, and_, or_, select

from audit.bitemporal import Horizon
from audit.versions import derive_versions, utc_text
from audit.views import view_for
from contracts_schema.envelope import EventEnvelope
from contracts_schema.subjects import ENROLMENT, REGISTRY, BoundedContext
from eventstore.projection import Projection
from eventstore.store import StoredEvent

NAME = "audit_history"


class TemporalProjection(Projection):
    name: ClassVar[str] = NAME
    version: ClassVar[int] = 1
    contexts: ClassVar[tuple[BoundedContext, ...]] = (REGISTRY, ENROLMENT)

    @classmethod
    def for_queries(cls) -> TemporalProjection:
        """An instance with its tables declared, for reading outside a runner."""
        projection = cls()
        projection.define(MetaData())
        return projection

    def define(self, metadata: MetaData) -> None:
        self.events = Table(
            f"{NAME}_events",
            metadata,
            Column("aggregate_type", String(64), primary_key=True),
            Column("aggregate_id", String(128), primary_key=True),
            Column("aggregate_version", Integer, primary_key=True),
            Column("envelope", Text, nullable=False),
        )
        self.versions = Table(
            f"{NAME}_versions",
            metadata,
            Column("aggregate_type", String(64), primary_key=True),
            Column("aggregate_id", String(128), primary_key=True),
            Column("known_from", String(32), primary_key=True),
            Column("valid_from", String(32), primary_key=True),
            Column("known_to", String(32), nullable=True, index=True),
            Column("valid_to", String(32), nullable=True),
            Column("state", Text, nullable=False),
        )

    def apply(self, conn: Connection, event: StoredEvent) -> None:
        e = event.envelope
        kind, ident = e.aggregate_type, e.aggregate_id
        conn.execute(
            self.events.insert().values(
                aggregate_type=kind,
                aggregate_id=ident,
                aggregate_version=e.aggregate_version,
                envelope=e.model_dump_json(),
            )
        )
        rows = conn.execute(
            select(self.events.c.envelope).where(
                self.events.c.aggregate_type == kind, self.events.c.aggregate_id == ident
            )
        ).scalars()
        derived = derive_versions(kind, ident, [EventEnvelope.model_validate_json(r) for r in rows])
        v = self.versions.c
        entity = and_(v.aggregate_type == kind, v.aggregate_id == ident)
        current = conn.execute(
            select(v.valid_from, v.valid_to, v.state, v.known_from)
            .where(entity, v.known_to.is_(None))
            .order_by(v.valid_from)
        ).all()
        if [(r.valid_from, r.valid_to, r.state) for r in current] == [
            (d.valid_from, d.valid_to, d.state) for d in derived
        ]:
            return
        now = utc_text(e.recorded_at)
        # Versions written at this same instant were never visible on their own: replace them.
        conn.execute(
            self.versions.delete().where(entity, v.known_to.is_(None), v.known_from == now)
        )
        conn.execute(
            self.versions.update().where(entity, v.known_to.is_(None)).values(known_to=now)
        )
        for d in derived:
            conn.execute(
                self.versions.insert().values(
                    aggregate_type=kind,
                    aggregate_id=ident,
                    known_from=now,
                    valid_from=d.valid_from,
                    known_to=None,
                    valid_to=d.valid_to,
                    state=d.state,
                )
            )


@dataclass(frozen=True)
class Row:
    aggregate_id: str
    state: dict[str, Any]


def list_as_of(
    conn: Connection, projection: TemporalProjection, aggregate_type: str, at: Horizon
) -> list[Row]:
    """Every entity of a type as it stood at (D, K), from the row versions."""
    v = projection.versions.c
    d, k = utc_text(at.as_of), utc_text(at.known_at)
    rows = conn.execute(
        select(v.aggregate_id, v.state)
        .where(
            v.aggregate_type == aggregate_type,
            v.known_from <= k,
            or_(v.known_to.is_(None), v.known_to > k),
            v.valid_from <= d,
            or_(v.valid_to.is_(None), v.valid_to > d),
        )
        .order_by(v.aggregate_id)
    ).all()
    view = view_for(aggregate_type)
    return [Row(r.aggregate_id, view.derive(json.loads(r.state), at.as_of_date)) for r in rows]
