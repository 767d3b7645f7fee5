"""Prometheus gauges for the read models: parked events and lag (events and seconds)."""

from __future__ import annotations

from prometheus_client import Gauge

from gateway.readmodels import ReadModels

PARKED = Gauge("gt_projection_parked_events", "Events a projection parked", ["projection"])
LAG_EVENTS = Gauge("gt_projection_lag_events", "Events not yet applied", ["projection", "stream"])
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
