"""Prometheus gauges for the read models: parked events and lag (events and seconds)."""

from __future__ import annotations

from prometheus_client import Gauge

from eventstore.observability import PARKED_EVENTS as PARKED
from eventstore.observability import PROJECTION_LAG as LAG_EVENTS
from gateway.readmodels import ReadModels

# Parked events and lag in events are the shared metrics every service exports.
LAG_SECONDS = Gauge(
    "gt_projection_lag_seconds", "Age of the oldest unapplied event", ["projection", "stream"]
)


async def refresh(read: ReadModels) -> None:
    for runner in read.runners:
        status = await runner.status()
        key = runner.projection.key
        PARKED.labels(key).set(status.parked)
        for s in status.streams:
            LAG_EVENTS.labels(key, s.stream).set(s.lag_events)
            LAG_SECONDS.labels(key, s.stream).set(s.lag_seconds)
