"""Explicit wiring: which streams and projections the audit tools look at."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib.metadata import entry_points

import nats

from audit.temporal import TemporalProjection
from contracts_schema.subjects import CONTEXTS, BoundedContext
from eventstore.clock import SystemClock
from eventstore.projection import Projection
from eventstore.settings import NatsSettings
from eventstore.store import EventStore

ENTRY_POINTS = "gt.projections"


def installed_projections() -> dict[str, Callable[[], Projection]]:
    """Audit's own projection, then every read model a package declares in its pyproject
    under the `gt.projections` entry points (the gateway's), so verify covers them all."""
    found: dict[str, Callable[[], Projection]] = {TemporalProjection.name: TemporalProjection}
    for point in sorted(entry_points(group=ENTRY_POINTS), key=lambda p: p.name):
        kind = point.load()
        if not (isinstance(kind, type) and issubclass(kind, Projection)):
            raise TypeError(f"entry point {point.value} in {ENTRY_POINTS} is not a Projection")
        found[kind.name] = kind
    return found


# Every projection whose live tables `audit verify` checks and `projections rebuild` rebuilds.
PROJECTIONS: dict[str, Callable[[], Projection]] = installed_projections()


def contexts(names: list[str] | None = None) -> list[BoundedContext]:
    if not names:
        return list(CONTEXTS.values())
    unknown = [n for n in names if n not in CONTEXTS]
    if unknown:
        raise ValueError(f"unknown context(s) {unknown}; known: {sorted(CONTEXTS)}")
    return [CONTEXTS[n] for n in names]


@asynccontextmanager
async def open_store(settings: NatsSettings) -> AsyncIterator[EventStore]:
    options: dict[str, object] = {"connect_timeout": 5, "max_reconnect_attempts": 3}
    if settings.nats_user:
        options.update(user=settings.nats_user, password=settings.nats_password)
    nc = await nats.connect(settings.nats_url.split(","), **options)
    try:
        yield EventStore(nc, SystemClock(), replicas=settings.stream_replicas)
    finally:
        await nc.close()
