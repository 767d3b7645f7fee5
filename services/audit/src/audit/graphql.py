# strawberry.field with arguments is untyped for mypy:
# mypy: disable-error-code="untyped-decorator"
"""GraphQL fields for history: any aggregate as of D / known at K, timelines, per-field
history, lists from the temporal projection, and OCDS packages.

The gateway mounts `AuditQuery` beside its own query root (`strawberry.tools.merge_types`)
and puts an `AuditSources` on its per-request context as `context.audit`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any

import strawberry
from sqlalchemy import Engine
from strawberry.scalars import JSON
from strawberry.types import Info

from audit.aggregates import load_envelopes
from audit.bitemporal import Horizon, end_of_day
from audit.folding import OWNERS
from audit.history import Replay, TimelineEntry, replay
from audit.ocds.export import UnknownProcess, gather, packages, require
from audit.ocds.packages import graphql_publication
from audit.temporal import TemporalProjection, list_as_of
from contracts_schema.errors import shown
from eventstore.store import EventStore

MAX_LIST = 500


@dataclass
class AuditSources:
    store: EventStore
    engine: Engine | None = None  # the read-model database holding the temporal projection
    authorize: Callable[[Any], None] = lambda context: None  # raise to refuse
    # Waits until the temporal read model holds every stored event (raise if it cannot): a
    # past answer is never given from a read model that has not reached the present.
    caught_up: Callable[[Any], Awaitable[None]] | None = None
    # Actors as people read them (the gateway's identity store: 'erased person' once erased);
    # without one, actors show as stored (pseudonyms, never identities).
    actor_names: Callable[[set[str]], dict[str, str]] | None = None

    def names(self, actors: set[str]) -> dict[str, str]:
        return self.actor_names(actors) if self.actor_names else {a: a for a in actors}

    def horizon(self, as_of: date | datetime | None, known_at: datetime | None) -> Horizon:
        now = datetime.now(UTC)
        valid = as_of if isinstance(as_of, datetime) else end_of_day(as_of) if as_of else now
        if known_at is not None and known_at.tzinfo is None:
            raise ValueError("knownAt needs a timezone (Z or +01:00)")
        if isinstance(valid, datetime) and valid.tzinfo is None:
            raise ValueError("asOf as a timestamp needs a timezone (Z or +01:00)")
        return Horizon(valid, known_at or now)


def _sources(info: Info) -> AuditSources:
    sources: AuditSources = info.context.audit
    sources.authorize(info.context)
    return sources


@strawberry.type
class FieldChange:
    path: str
    before: JSON | None
    after: JSON | None


@strawberry.type(description="One event in an aggregate's history, with both clocks.")
class TimelineEvent:
    event_id: str
    event_type: str
    aggregate_version: int
    occurred_at: datetime = strawberry.field(description="Valid time: when it became true.")
    recorded_at: datetime = strawberry.field(description="Transaction time: when recorded.")
    actor: str
    command_id: str
    summary: str
    changes: list[FieldChange]

    @classmethod
    def of(cls, entry: TimelineEntry, names: dict[str, str]) -> TimelineEvent:
        e = entry.envelope
        changes = [FieldChange(path=c.path, before=c.before, after=c.after) for c in entry.changes]
        return cls(
            event_id=e.event_id, event_type=e.event_type, aggregate_version=e.aggregate_version,
            occurred_at=e.occurred_at, recorded_at=e.recorded_at, actor=names.get(e.actor, e.actor),
            command_id=e.command_id, summary=entry.summary, changes=changes,
        )  # fmt: skip


@strawberry.type(description="The values a field took, release by release (OCDS versionedRelease).")
class FieldHistory:
    path: str
    versions: JSON


@strawberry.type(description="An aggregate folded from its events as of D, as known at K.")
class HistoricalState:
    aggregate_type: str
    aggregate_id: str
    as_of: datetime
    known_at: datetime
    exists: bool
    state: JSON
    timeline: list[TimelineEvent]
    field_history: list[FieldHistory]

    @classmethod
    def of(cls, result: Replay, names: dict[str, str]) -> HistoricalState:
        return cls(
            aggregate_type=result.aggregate_type, aggregate_id=result.aggregate_id,
            as_of=result.horizon.as_of, known_at=result.horizon.known_at,
            exists=result.exists, state=JSON(result.state),
            timeline=[TimelineEvent.of(t, names) for t in result.timeline],
            field_history=[FieldHistory(path=p, versions=JSON(v))
                           for p, v in result.field_history.items()],
        )  # fmt: skip


@strawberry.type
class EntityState:
    aggregate_id: str
    state: JSON


AsOf = Annotated[
    date | None, strawberry.argument(description="Valid date D (a whole Dutch day); default now.")
]
KnownAt = Annotated[
    datetime | None,
    strawberry.argument(description="Transaction time K: what the registry knew then."),
]


@strawberry.type
class AuditQuery:
    @strawberry.field(description="Any aggregate (e.g. tender/vt-0800-2000) as of D, known at K.")
    async def history(
        self,
        info: Info,
        aggregate: str,
        as_of: AsOf = None,
        known_at: KnownAt = None,
    ) -> HistoricalState:
        sources = _sources(info)
        at = sources.horizon(as_of, known_at)
        kind, ident, envelopes = await load_envelopes(sources.store, aggregate)
        result = replay(kind, ident, envelopes, at)
        actors = {t.envelope.actor for t in result.timeline}
        return HistoricalState.of(result, await asyncio.to_thread(sources.names, actors))

    @strawberry.field(description="Every entity of a type as it stood at (D, K), by id.")
    async def entities_as_of(
        self,
        info: Info,
        aggregate_type: str,
        as_of: AsOf = None,
        known_at: KnownAt = None,
        first: int = 100,
    ) -> list[EntityState]:
        sources = _sources(info)
        if aggregate_type not in OWNERS:
            raise ValueError(
                f"unknown aggregate type {shown(aggregate_type)}; one of {sorted(OWNERS)}"
            )
        if not 0 < first <= MAX_LIST:
            raise ValueError(f"first must be between 1 and {MAX_LIST}")
        if sources.engine is None:
            raise ValueError("no temporal read model is configured")
        at = sources.horizon(as_of, known_at)
        engine = sources.engine
        if sources.caught_up is not None:
            await sources.caught_up(info.context)

        def read() -> list[EntityState]:
            with engine.connect() as conn:
                projection = TemporalProjection.for_queries()
                rows = list_as_of(conn, projection, aggregate_type, at, limit=first)
            return [EntityState(aggregate_id=r.aggregate_id, state=JSON(r.state)) for r in rows]

        return await asyncio.to_thread(read)

    @strawberry.field(description="A tender's process as OCDS 1.1.5 release and record packages.")
    async def ocds(
        self,
        info: Info,
        tender_id: str,
        as_of: AsOf = None,
        known_at: KnownAt = None,
    ) -> JSON:
        sources = _sources(info)
        at = sources.horizon(as_of, known_at)
        try:
            exported = require(await gather(sources.store, tender_id, at), at)
        except UnknownProcess as exc:  # an empty package would fail the schema
            raise ValueError(str(exc)) from exc
        # Packages describe the registry as known at K: a fixed K gives the same bytes always.
        published = known_at or at.known_at
        built: Any = packages(exported, tender_id, published, graphql_publication(
            tender_id, as_of, published))  # fmt: skip
        return built  # type: ignore[no-any-return]
