"""Explicit wiring: which streams and projections the audit tools look at."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib.metadata import entry_points
from pathlib import Path

import nats
import nats.errors

from audit.temporal import TemporalProjection
from contracts_schema.subjects import CONTEXTS, BoundedContext
from eventstore.clock import SystemClock
from eventstore.projection import Projection
from eventstore.settings import NatsSettings
from eventstore.store import EventStore

ENTRY_POINTS = "gt.projections"
DEFAULT_DATABASE = "read_models"  # the gateway's read models: --database-url / GT_DATABASE_URL


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


def resolve_settings(nats_url: str | None, database_url: str | None) -> NatsSettings:
    """A flag wins, then GT_* variables, then the endpoints of a running `make run`."""
    updates: dict[str, str] = {}
    endpoints = Path(os.environ.get("GT_DATA_DIR", "data")) / "endpoints.json"
    if endpoints.exists():
        embedded = json.loads(endpoints.read_text())
        if "GT_NATS_URL" not in os.environ:
            updates["nats_url"] = embedded["nats_url"]
        if "GT_DATABASE_URL" not in os.environ:
            updates["database_url"] = embedded["database_url"]
    updates.update(
        {k: v for k, v in {"nats_url": nats_url, "database_url": database_url}.items() if v}
    )
    return NatsSettings().model_copy(update=updates)


async def _quiet(_exc: Exception) -> None:
    return None  # connection errors are reported once, by open_store


@asynccontextmanager
async def open_store(settings: NatsSettings) -> AsyncIterator[EventStore]:
    options: dict[str, object] = {
        "connect_timeout": 3,
        # nats-py waits forever with allow_reconnect=False or 0 attempts: one retry, then fail.
        "max_reconnect_attempts": 1,
        "reconnect_time_wait": 0.5,
        "error_cb": _quiet,
    }
    if settings.nats_user:
        options.update(user=settings.nats_user, password=settings.nats_password)
    try:
        async with asyncio.timeout(15):
            nc = await nats.connect(settings.nats_url.split(","), **options)
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        raise ConnectionError(
            f"cannot reach NATS at {settings.nats_url} ({type(exc).__name__}); start the system"
            " (`make run`) or point --nats-url / GT_NATS_URL at it"
        ) from exc
    try:
        yield EventStore(nc, SystemClock(), replicas=settings.stream_replicas)
    finally:
        await nc.close()
