"""What a projection reports: position, lag (events and age) and parked events per stream."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from nats.aio.client import Client as NATS
from sqlalchemy import Engine, func, select

from contracts_schema.envelope import EventEnvelope
from eventstore.projection import parked


@dataclass(frozen=True)
class StreamStatus:
    stream: str
    position: int
    last_seq: int
    lag_events: int
    lag_seconds: float  # age of the oldest event not yet applied; 0 when caught up


@dataclass(frozen=True)
class ProjectionStatus:
    name: str
    version: int
    key: str
    live: bool
    parked: int
    streams: tuple[StreamStatus, ...]

    @property
    def caught_up(self) -> bool:
        return all(s.lag_events == 0 for s in self.streams)


def parked_count(engine: Engine, key: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(parked).where(parked.c.projection == key)
            ).scalar_one()
        )


async def stream_status(nc: NATS, stream: str, position: int) -> StreamStatus:
    js = nc.jetstream()
    info = await js.stream_info(stream)
    last = int(info.state.last_seq)
    lag = max(0, last - position)
    age = 0.0
    if lag:
        first = max(position + 1, int(info.state.first_seq))
        try:
            msg = await js.get_msg(stream, first, direct=True)
            envelope = EventEnvelope.model_validate_json(msg.data or b"{}")
            age = max(0.0, (datetime.now(UTC) - envelope.recorded_at).total_seconds())
        except Exception:  # a gap or a foreign message: report the count, age unknown
            age = 0.0
    return StreamStatus(stream, position, last, lag, age)
