"""The temporal projection: bitemporal row versions of every registry and enrolment entity.

It keeps each entity's envelopes beside its versions so that a backdated event re-derives
that entity alone, inside the runner's transaction.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    bindparam,
    or_,
    select,
)

from audit.bitemporal import Horizon, valid_order
from audit.folding import reader_for
from audit.versions import Version, fold_tail, utc_text, valid_text
from contracts_schema.envelope import EventEnvelope
from contracts_schema.folds import FOLDS
from contracts_schema.subjects import ENROLMENT, REGISTRY, BoundedContext
from eventstore.known_time import known_times
from eventstore.projection import Projection
from eventstore.store import StoredEvent

NAME = "audit_history"
FOLDED_LIMIT = 20_000  # aggregates whose fold this process keeps between events


@dataclass(frozen=True)
class _Folded:
    """An aggregate's fold after all its events, kept so that an event that comes last in
    valid order folds onto it instead of re-reading and re-folding the whole history (its
    day's version is then the state after it, whatever that day held before)."""

    version: int  # aggregate_version of the newest event folded
    last: tuple[Any, ...]  # valid order of the event that comes last
    state: Any
    known: datetime  # when the newest became known (`eventstore.known_time`)

    def admits(self, envelope: EventEnvelope) -> bool:
        """Whether `envelope` follows right after (no gap: a batch replayed after a failed
        transaction starts before) and comes last in valid order (not backdated)."""
        return envelope.aggregate_version == self.version + 1 and valid_order(envelope) > self.last


class TemporalProjection(Projection):
    name: ClassVar[str] = NAME
    # 2: states are the owners' folds rendered as JSON (was: the audit's own views), valid
    # from the start of each fact's Dutch calendar day (was: its instant).
    version: ClassVar[int] = 2
    contexts: ClassVar[tuple[BoundedContext, ...]] = (REGISTRY, ENROLMENT)
    reads_every_event: ClassVar[bool] = True  # keeps envelopes; its views give them meaning
    # No consistency token waits for it (`entitiesAsOf` waits for the present itself): beside
    # the gateway's read models it writes after them (`eventstore.projection.WriterTurn`).
    awaited: ClassVar[bool] = False

    def undeclared(self) -> set[str]:
        # Every event of these contexts is read through its owner's fold.
        mine = {c.name for c in self.contexts}
        read = {m.event_type for (c, _), f in FOLDS.items() if c in mine for m in f.events}
        return super().undeclared() - read

    @classmethod
    def for_queries(cls) -> TemporalProjection:
        """An instance with its tables declared, for reading outside a runner."""
        projection = cls()
        projection.define(MetaData())
        return projection

    def define(self, metadata: MetaData) -> None:
        self._folded: OrderedDict[tuple[str, str], _Folded] = OrderedDict()
        self.events = Table(
            f"{self.key}_events",
            metadata,
            Column("aggregate_type", String(64), primary_key=True),
            Column("aggregate_id", String(128), primary_key=True),
            Column("aggregate_version", Integer, primary_key=True),
            Column("occurred_at", String(32), nullable=False),
            Column("envelope", Text, nullable=False),
        )
        self.versions = Table(
            f"{self.key}_versions",
            metadata,
            Column("aggregate_type", String(64), primary_key=True),
            Column("aggregate_id", String(128), primary_key=True),
            Column("known_from", String(32), primary_key=True),
            Column("valid_from", String(32), primary_key=True),
            Column("known_to", String(32), nullable=True, index=True),
            Column("valid_to", String(32), nullable=True),
            Column("state", Text, nullable=False),
        )
        self._statements()

    def _statements(self) -> None:
        """`apply`'s statements, built once: built per event (and their cache keys walked),
        they were ~a fifth of its CPU (fresh24). Parameters are named `p_*`, apart from the
        columns an INSERT or UPDATE sets."""
        v, ev = self.versions.c, self.events.c
        entity = and_(
            v.aggregate_type == bindparam("p_kind"), v.aggregate_id == bindparam("p_ident")
        )
        same_row = and_(
            entity,
            v.known_from == bindparam("p_known_from"),
            v.valid_from == bindparam("p_valid_from"),
        )
        self._insert_event = self.events.insert()
        self._current = (
            select(v.known_from, v.valid_from, v.valid_to, v.state)
            .where(entity, v.known_to.is_(None))
            .order_by(v.valid_from)
        )
        self._envelopes = select(ev.envelope).where(
            ev.aggregate_type == bindparam("p_kind"), ev.aggregate_id == bindparam("p_ident")
        )
        self._drop_version = self.versions.delete().where(same_row)
        self._close_version = (
            self.versions.update().where(same_row).values(known_to=bindparam("p_known_to"))
        )
        self._insert_version = self.versions.insert()

    def apply(self, conn: Connection, event: StoredEvent) -> None:
        e = event.envelope
        kind, ident = e.aggregate_type, e.aggregate_id
        cut = valid_text(e)
        conn.execute(
            self._insert_event,
            {
                "aggregate_type": kind,
                "aggregate_id": ident,
                "aggregate_version": e.aggregate_version,
                "occurred_at": cut,
                "envelope": e.model_dump_json(),
            },
        )
        entity = {"p_kind": kind, "p_ident": ident}
        current = conn.execute(self._current, entity).all()
        # Only what follows the new event's valid time can change: re-derive that tail.
        before = [r for r in current if r.valid_from < cut]
        base = before[-1] if before else None
        old_tail = ([base] if base else []) + [r for r in current if r.valid_from >= cut]
        base_version = Version(base.valid_from, base.valid_to, base.state) if base else None
        known = self._folded.get((kind, ident))
        if known is not None and known.admits(e):
            new_tail, state = fold_tail(kind, ident, base_version, known.state, [e])
            known_at = max(e.recorded_at, known.known)
            folded = _Folded(e.aggregate_version, valid_order(e), state, known_at)
        else:
            envelopes = [
                EventEnvelope.model_validate_json(text)
                for text in conn.execute(self._envelopes, entity).scalars()
            ]
            # Known from the latest transaction time of it and its predecessors, and in that
            # order within a day (a legacy history may have been recorded backwards).
            times = known_times(envelopes)
            known_at = times[e.event_id]
            stored = sorted(
                envelopes,
                key=lambda x: (valid_text(x), times[x.event_id], x.aggregate_version),
            )
            earlier = [x for x in stored if valid_text(x) < cut]
            later = [x for x in stored if valid_text(x) >= cut]
            start = reader_for(kind, stored).replay(ident, earlier)
            new_tail, state = fold_tail(kind, ident, base_version, start, later)
            # Events arrive in version order: this one is the newest, not always the last.
            folded = _Folded(e.aggregate_version, valid_order(stored[-1]), state, known_at)
        if [(r.valid_from, r.valid_to, r.state) for r in old_tail] == [
            (d.valid_from, d.valid_to, d.state) for d in new_tail
        ]:
            self._remember((kind, ident), folded)
            return
        now = utc_text(known_at)
        for row in old_tail:
            same_row = {**entity, "p_known_from": row.known_from, "p_valid_from": row.valid_from}
            if row.known_from == now:
                # Written at this same instant, never visible on its own: replace it.
                conn.execute(self._drop_version, same_row)
            else:
                conn.execute(self._close_version, {**same_row, "p_known_to": now})
        if new_tail:
            conn.execute(
                self._insert_version,
                [
                    {
                        "aggregate_type": kind,
                        "aggregate_id": ident,
                        "known_from": now,
                        "valid_from": d.valid_from,
                        "known_to": None,
                        "valid_to": d.valid_to,
                        "state": d.state,
                    }
                    for d in new_tail
                ],
            )
        self._remember((kind, ident), folded)

    def _remember(self, key: tuple[str, str], folded: _Folded) -> None:
        self._folded[key] = folded
        self._folded.move_to_end(key)
        if len(self._folded) > FOLDED_LIMIT:
            self._folded.popitem(last=False)


@dataclass(frozen=True)
class Row:
    aggregate_id: str
    state: dict[str, Any]


def list_as_of(
    conn: Connection,
    projection: TemporalProjection,
    aggregate_type: str,
    at: Horizon,
    limit: int | None = None,
) -> list[Row]:
    """Every entity of a type as it stood at (D, K), from the row versions; the first `limit`
    by id (in the query: `entitiesAsOf(first: 1)` read and decoded every row, attack10)."""
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
        .limit(limit)
    ).all()
    return [Row(r.aggregate_id, json.loads(r.state)) for r in rows]
