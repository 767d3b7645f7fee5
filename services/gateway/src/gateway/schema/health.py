"""Health: each projection's position, lag (events and seconds) and parked events."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import strawberry
from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError

from eventstore.projection import parked
from gateway.readmodels import ReadModels
from gateway.schema.context import Info
from gateway.schema.errors import Forbidden, InvalidArgument

MAX_PARKED = 500


@strawberry.type
class StreamLag:
    stream: str
    position: int
    last_sequence: int
    lag_events: int
    lag_seconds: float


@strawberry.type
class ProjectionHealth:
    name: str
    version: int
    live: bool
    parked_events: int
    streams: list[StreamLag]


@strawberry.type(description="An event a projection could not apply; it waits for a fix.")
class ParkedEvent:
    projection: str
    stream: str
    sequence: int
    event_id: str
    event_type: str
    aggregate: str
    error: str
    parked_at: datetime


@strawberry.type
class Health:
    @strawberry.field
    async def projections(self, info: Info) -> list[ProjectionHealth]:
        result = []
        for runner in info.context.read.runners:
            status = await runner.status()
            result.append(
                ProjectionHealth(
                    name=status.name,
                    version=status.version,
                    live=status.live,
                    parked_events=status.parked,
                    streams=[
                        StreamLag(
                            stream=s.stream,
                            position=s.position,
                            last_sequence=s.last_seq,
                            lag_events=s.lag_events,
                            lag_seconds=s.lag_seconds,
                        )
                        for s in status.streams
                    ],
                )
            )
        return result

    @strawberry.field(description="Parked events (coordinators and auditors), 1..500.")
    async def parked(self, info: Info, first: int = 50) -> list[ParkedEvent]:
        principal = info.context.require_signed_in("the parked-event list")
        if not principal.sees_everything:
            raise Forbidden("parked events are for coordinators and auditors")
        if not 1 <= first <= MAX_PARKED:
            raise InvalidArgument(f"`first` must be between 1 and {MAX_PARKED}; got {first}")
        rows = await asyncio.to_thread(parked_rows, info.context.read, first)
        return [
            ParkedEvent(
                projection=r["projection"],
                stream=r["stream"],
                sequence=r["seq"],
                event_id=r["event_id"],
                event_type=r["event_type"],
                aggregate=r["aggregate"],
                error=r["error"],
                parked_at=r["parked_at"],
            )
            for r in rows
        ]

    @strawberry.field(description="No parked events and a read-model database that is whole.")
    async def ok(self, info: Info) -> bool:
        return not await problems(info.context.read)

    @strawberry.field(description="Why `ok` is false (empty when it is true).")
    async def problems(self, info: Info) -> list[str]:
        return await problems(info.context.read)


def parked_rows(read: ReadModels, first: int) -> list[dict[str, Any]]:
    """The first parked events of every read model, from the database each one lives in
    (the audit's history may have its own: GT_AUDIT_DATABASE_URL), oldest first: the events
    `ProjectionHealth.parked_events` counts, each runner's from its own engine."""
    keys: dict[Engine, list[str]] = {}
    for runner in read.runners:
        keys.setdefault(runner.engine, []).append(runner.projection.key)
    if not keys:  # no runner (a read side without projections): the read models' own table
        keys[read.engine] = []
    found: list[dict[str, Any]] = []
    for engine, projections in keys.items():
        query = select(parked).order_by(parked.c.id).limit(first)
        if projections:
            query = query.where(parked.c.projection.in_(projections))
        with engine.connect() as conn:
            for row in conn.execute(query).mappings():
                at = row["parked_at"]  # stored in UTC; SQLite gives it back naive
                found.append({**row, "parked_at": at if at.tzinfo else at.replace(tzinfo=UTC)})
    found.sort(key=lambda r: (r["parked_at"], r["projection"], r["id"]))
    return found[:first]


async def problems(read: ReadModels) -> list[str]:
    found = list(await read.integrity())  # a copy: the integrity answer is cached
    if found:
        return found  # the statuses live in the same broken database
    try:
        parked_events = sum([(await r.status()).parked for r in read.runners])
    except DBAPIError as exc:
        return [f"the read-model database fails: {exc.orig}"]
    if parked_events:
        found.append(f"{parked_events} parked event(s): see health.parked")
    # A projector process that exited, or has not been heard from (the read models stand still).
    found += sorted({r.problem for r in read.runners if r.problem})
    return found
