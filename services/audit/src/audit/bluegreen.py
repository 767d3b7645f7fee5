"""Blue-green rebuild: build the projection beside the live one, then cut over atomically.

The green copy is built in a scratch database with the runner's own batch code while the
live (blue) tables keep serving. Cut-over replaces the live rows, parked events and
checkpoints in one transaction, after catching green up with the live checkpoint, so a
runner that keeps going afterwards continues exactly after green's last event. Cancelling
before the cut-over leaves the live tables untouched.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nats.js.errors import NotFoundError
from sqlalchemy import Connection, Engine, Table, select

from audit.bluegreen_scratch import green_scratch
from audit.rebuild import Cancelled, Rebuilt, live_checkpoints, rebuild
from audit.wiring import Engines
from eventstore.projection import Projection, RunnerFactory, bookkeeping, checkpoints, parked
from eventstore.sql import make_engine
from eventstore.store import EventStore

Progress = Callable[[int], None]
CATCH_UP_ROUNDS = 10


class LiveMovedOn(Exception):
    """The live runner advanced during cut-over; green must catch up first."""


async def heads(store: EventStore, projection: Projection) -> dict[str, int]:
    positions = {}
    for context in projection.contexts:
        try:
            positions[context.stream] = await store.last_seq(context)
        except NotFoundError:
            positions[context.stream] = 0
    return positions


async def blue_green_rebuild(
    store: EventStore,
    live: Engine,
    make: Callable[[], Projection],
    *,
    runners: RunnerFactory,
    progress: Progress | None = None,
    cancel: asyncio.Event | None = None,
) -> Rebuilt:
    engines = Engines(live)  # the read model may live in its service's own database
    try:
        return await _blue_green(store, engines.of(make), make(), runners, progress, cancel)
    finally:
        engines.dispose()


async def _blue_green(
    store: EventStore,
    live: Engine,
    projection: Projection,
    runners: RunnerFactory,
    progress: Progress | None,
    cancel: asyncio.Event | None,
) -> Rebuilt:
    with green_scratch() as scratch_dir:
        green = make_engine(f"sqlite:///{Path(scratch_dir) / 'green.db'}")
        try:
            upto = await heads(store, projection)
            built = await rebuild(
                store,
                green,
                projection,
                runners=runners,
                upto=upto,
                progress=progress,
                cancel=cancel,
            )
            for _ in range(CATCH_UP_ROUNDS):
                ahead = live_checkpoints(live, projection) or {}
                if any(seq > built.positions.get(s, 0) for s, seq in ahead.items()):
                    upto = {s: max(seq, upto.get(s, 0)) for s, seq in ahead.items()}
                    built = await rebuild(
                        store,
                        green,
                        projection,
                        runners=runners,
                        upto=upto,
                        start=built.positions,
                        cancel=cancel,
                    )
                    continue
                if cancel is not None and cancel.is_set():
                    raise Cancelled(f"rebuild of {projection.key} cancelled before cut-over")
                try:
                    await asyncio.to_thread(cut_over, live, green, projection, built)
                    return built
                except LiveMovedOn:
                    continue
            raise RuntimeError(f"the live runner of {projection.key} kept moving; try again")
        finally:
            green.dispose()


def _copy(conn: Connection, green: Engine, table: Table, where: Any = None, skip: str = "") -> None:
    query = select(table) if where is None else select(table).where(where)
    with green.connect() as source:
        rows = [{k: v for k, v in r.items() if k != skip} for r in source.execute(query).mappings()]
    if rows:
        conn.execute(table.insert(), rows)


def cut_over(live: Engine, green: Engine, projection: Projection, built: Rebuilt) -> None:
    key = projection.key
    bookkeeping.create_all(live)
    for table in built.tables:
        table.create(live, checkfirst=True)
    with live.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("LOCK TABLE projection_checkpoints IN EXCLUSIVE MODE")
        else:
            conn.exec_driver_sql(
                "DELETE FROM projection_checkpoints WHERE 0"
            )  # take the write lock
        current = conn.execute(
            select(checkpoints.c.stream, checkpoints.c.seq).where(checkpoints.c.projection == key)
        ).all()
        if any(seq > built.positions.get(stream, 0) for stream, seq in current):
            raise LiveMovedOn(key)
        for table in reversed(built.tables):
            conn.execute(table.delete())
        for table in built.tables:
            _copy(conn, green, table)
        conn.execute(parked.delete().where(parked.c.projection == key))
        _copy(conn, green, parked, parked.c.projection == key, skip="id")
        conn.execute(checkpoints.delete().where(checkpoints.c.projection == key))
        _copy(conn, green, checkpoints, checkpoints.c.projection == key)
