"""Prometheus gauges for the read models: parked events and lag (events and seconds)."""

from __future__ import annotations

from prometheus_client import Gauge

from eventstore.observability import PARKED_EVENTS, PROJECTION_LAG
from gateway.readmodels import ReadModels

LAG_SECONDS = Gauge(
    "gt_projection_lag_seconds",
    "Age of the oldest event the projection has not applied yet.",
    ["projection", "stream"],
)


async def refresh(read: ReadModels) -> None:
    for runner in read.runners:
        status = await runner.status()
        key = runner.projection.key
        PARKED_EVENTS.labels(key).set(status.parked)
        for s in status.streams:
            PROJECTION_LAG.labels(key, s.stream).set(s.lag_events)
            LAG_SECONDS.labels(key, s.stream).set(s.lag_seconds)
