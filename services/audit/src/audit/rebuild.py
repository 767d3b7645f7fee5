"""Rebuild a projection from the streams through the runner's own batch code, and compare."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, Table, inspect, select

from audit.verify import Problem
from eventstore.projection import (
    Projection,
    ProjectionRunner,
    RunnerFactory,
    checkpoints,
    parked,
)
from eventstore.store import EventStore, StoredEvent
from eventstore.trust import trust_of

Progress = Callable[[int], None]
BATCH = 500


@dataclass(frozen=True)
class Rebuilt:
    positions: dict[str, int]
    tables: list[Table]


class Cancelled(Exception):
    """The operator stopped a rebuild; nothing was switched over."""


async def rebuild(
    store: EventStore,
    engine: Engine,
    projection: Projection,
    *,
    runners: RunnerFactory,
    upto: dict[str, int] | None = None,
    start: dict[str, int] | None = None,
    progress: Progress | None = None,
    cancel: asyncio.Event | None = None,
) -> Rebuilt:
    """Apply every event (up to `upto` per stream) into `engine` with the runner's code.

    `runners` makes the runner (the composition root's `bootstrap.parts.projection_runner`):
    audit cannot import the root that imports it.
    """
    runner = runners(store.nc, engine, projection)
    runner.bind_history()  # a versioned read model may need an aggregate's earlier events
    await asyncio.to_thread(runner.create_tables)
    tables = list(runner.metadata.sorted_tables)
    positions: dict[str, int] = dict(start or {})
    for context in projection.contexts:
        limit = None if upto is None else upto.get(context.stream, 0)
        batch: list[StoredEvent] = []
        # Read as the live runner reads (eventstore.trust): what it parks, the rebuild parks,
        # instead of applying a forgery or ending at bytes that are no envelope.
        start_at = positions.get(context.stream, 0) + 1
        if limit is not None and limit < start_at:
            # Nothing to read up to the limit; and a stream never created (its head taken
            # as 0) has recorded nothing: a direct get on it answers 503, not "empty".
            continue
        trust = trust_of(getattr(store, "nc", None))  # an in-memory store has no connection
        async for event in store.read_stream(context, start_at, trust=trust):
            if limit is not None and event.seq > limit:
                break
            batch.append(event)
            if len(batch) >= BATCH:
                await _flush(runner, context.stream, batch, positions, progress, cancel)
        await _flush(runner, context.stream, batch, positions, progress, cancel)
    return Rebuilt(positions, tables)


async def _flush(
    runner: ProjectionRunner,
    stream: str,
    batch: list[StoredEvent],
    positions: dict[str, int],
    progress: Progress | None,
    cancel: asyncio.Event | None,
) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled(f"rebuild of {runner.projection.key} cancelled")
    if not batch:
        return
    positions[stream] = await asyncio.to_thread(runner.apply_batch, stream, list(batch))
    if progress:
        progress(len(batch))
    batch.clear()


@dataclass
class Comparison:
    projection: str
    rows: int = 0
    problems: list[Problem] = field(default_factory=list)


def _rows(engine: Engine, table: Table) -> dict[tuple[Any, ...], dict[str, Any]]:
    versioned = table.info.get("versioned_key")
    keys = (
        [*versioned, "valid_from", "known_from"]  # one version of one row
        if versioned
        else [c.name for c in table.primary_key.columns] or [c.name for c in table.columns]
    )
    with engine.connect() as conn:
        result = conn.execute(select(table)).mappings().all()
    return {tuple(_hashable(row[k]) for k in keys): dict(row) for row in result}


def _hashable(value: Any) -> Any:
    # A table without a primary key is keyed by all its columns, JSON ones included.
    if isinstance(value, list | dict):
        return json.dumps(value, sort_keys=True, default=str)
    return value


def _parked(engine: Engine, key: str) -> set[tuple[Any, ...]]:
    c = parked.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(c.stream, c.seq, c.event_id, c.error).where(c.projection == key)
        ).all()
    return {tuple(r) for r in rows}


def _event(row: dict[str, Any] | None) -> str:
    """Rows that stand for one event (an event log) name it."""
    return f" (event {row['event_id']})" if row and row.get("event_id") else ""


def compare(
    projection: Projection, live: Engine, scratch: Engine, tables: list[Table]
) -> Comparison:
    """Every row of every table of the projection, live against rebuilt."""
    report = Comparison(projection.key)
    for table in tables:
        mine, fresh = _rows(live, table), _rows(scratch, table)
        report.rows += len(fresh)
        where = f"projection {projection.key} table {table.name}"
        for key in sorted(mine.keys() | fresh.keys(), key=repr):
            a, b = mine.get(key), fresh.get(key)
            if a == b:
                continue
            if a is None:
                detail = f"row {key}{_event(b)} missing from the live table"
            elif b is None:
                detail = f"row {key}{_event(a)} in the live table is not produced by the events"
            else:
                cols = [f"{k}: live {a[k]!r} rebuilt {b[k]!r}" for k in a if a[k] != b.get(k)]
                detail = f"row {key} differs: " + "; ".join(cols)
            report.problems.append(Problem(where, "projection-drift", detail))
    if _parked(live, projection.key) != _parked(scratch, projection.key):
        report.problems.append(
            Problem(f"projection {projection.key}", "parked-drift", "parked events differ")
        )
    return report


def live_checkpoints(engine: Engine, projection: Projection) -> dict[str, int] | None:
    c = checkpoints.c
    with engine.connect() as conn:
        if not inspect(conn).has_table(checkpoints.name):
            return None
        rows = conn.execute(select(c.stream, c.seq).where(c.projection == projection.key)).all()
    return {stream: int(seq) for stream, seq in rows} if rows else None
