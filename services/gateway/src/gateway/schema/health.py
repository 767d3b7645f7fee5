"""Health: each projection's position, lag (events and seconds) and parked events."""

from __future__ import annotations

from datetime import datetime

import strawberry
from sqlalchemy import select

from eventstore.projection import parked
from gateway.schema.context import Info


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

    @strawberry.field(description="Parked events (coordinators and auditors).")
    async def parked(self, info: Info, first: int = 50) -> list[ParkedEvent]:
        info.context.require_signed_in("the parked events")
        rows = await info.context.read.rows(
            select(parked).order_by(parked.c.id).limit(min(first, 500))
        )
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

    @strawberry.field
    async def ok(self, info: Info) -> bool:
        statuses = [await r.status() for r in info.context.read.runners]
        return all(s.parked == 0 for s in statuses)
