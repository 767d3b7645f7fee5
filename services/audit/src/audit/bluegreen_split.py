"""Blue-green rebuild of several read models of one database on two cores.

The read models are split into groups of about equal apply cost; each group is built by a
process of its own, reading the streams and checking what it applies as every reader does,
into a scratch SQLite file with no syncs (`eventstore.split_rebuild`). Then, as in
`audit.bluegreen`: green catches up with the live checkpoints, then the cut-over. On a
SQLite live database one transaction replaces the live rows, parked events and checkpoints
of all of them at once, with `INSERT ... SELECT` from the attached group files: killed or
cancelled before it commits, the live database is as it was. On PostgreSQL the cut-over is
`audit.bluegreen`'s, one read model per transaction: killed between two, some read models
are the rebuilt ones and the others the old ones, each with the checkpoints of its own rows
(nothing lost or doubled; a re-run completes). The scratch files are removed when the
rebuild ends or fails; a SIGKILLed rebuild's `audit-green-*` directory is removed by the
next rebuild (`audit.bluegreen_scratch`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path

from sqlalchemy import Engine, select

from audit.bluegreen import CATCH_UP_ROUNDS, LiveMovedOn, cut_over, heads
from audit.bluegreen_scratch import green_scratch
from audit.rebuild import Cancelled, Rebuilt, live_checkpoints, rebuild
from eventstore.projection import Projection, RunnerFactory, bookkeeping, checkpoints, parked
from eventstore.split_rebuild import (
    Connect,
    GroupJob,
    TrustSpec,
    attach,
    build_groups,
    copy_group,
    detach,
    may_create_consumers,
    partition,
    tables_of,
)
from eventstore.sql import WRITER, make_engine
from eventstore.store import EventStore
from eventstore.trust import trust_of

GROUPS = 2  # processes: the machines this runs on have two cores or more


async def blue_green_split(
    store: EventStore,
    live: Engine,
    makes: Sequence[Callable[[], Projection]],
    *,
    runners: RunnerFactory,
    connect: Connect,
    groups: int = GROUPS,
    cancel: asyncio.Event | None = None,
) -> dict[str, Rebuilt]:
    """Rebuild `makes` (read models of the `live` database) in `groups` processes and cut
    them over together; projection key -> what was cut over."""
    parts = partition(makes, groups)
    projections = [make() for make in makes]
    upto: dict[str, int] = {}
    for projection in projections:
        upto.update(await heads(store, projection))
    trust = TrustSpec.of(trust_of(store.nc))
    # The read-only auditor may not create consumers: its groups read by direct gets.
    streams = [stream for stream, head in upto.items() if head > 0]
    allowed = await asyncio.gather(*(may_create_consumers(store.nc, s) for s in streams))
    direct = None if all(allowed) else rebuild
    with green_scratch() as scratch:
        files = [str(Path(scratch) / f"group-{i}.db") for i in range(len(parts))]
        jobs = [
            # Copied into the live tables, which have their read indexes: none built here.
            GroupJob(
                connect,
                f"sqlite:///{path}",
                tuple(part),
                upto,
                trust,
                runners,
                read_indexes=False,
                direct=direct,
            )
            for path, part in zip(files, parts, strict=True)
        ]
        built = await build_groups(jobs)
        if cancel is not None and cancel.is_set():
            raise Cancelled("rebuild cancelled before cut-over")
        greens = [make_engine(job.url) for job in jobs]
        try:
            state = {
                make().key: (make, green, dict(group.positions[make().key]))
                for part, green, group in zip(parts, greens, built, strict=True)
                for make in part
            }
            for _ in range(CATCH_UP_ROUNDS):
                if await _catch_up(store, live, state, runners, cancel):
                    continue  # the live runners moved on while green was built: look again
                if cancel is not None and cancel.is_set():
                    raise Cancelled("rebuild cancelled before cut-over")
                rebuilt = {
                    key: Rebuilt(positions, list(tables_of([make]).sorted_tables))
                    for key, (make, _, positions) in state.items()
                }
                try:
                    await asyncio.to_thread(_cut_over_all, live, files, parts, greens, rebuilt)
                    return rebuilt
                except LiveMovedOn:
                    continue
            raise RuntimeError("the live runners kept moving; try again")
        finally:
            for green in greens:
                green.dispose()


async def _catch_up(
    store: EventStore,
    live: Engine,
    state: dict[str, tuple[Callable[[], Projection], Engine, dict[str, int]]],
    runners: RunnerFactory,
    cancel: asyncio.Event | None,
) -> bool:
    """Apply to green what the live runners applied beyond it; whether any was behind."""
    behind = False
    for key, (make, green, positions) in state.items():
        projection = make()
        ahead = live_checkpoints(live, projection) or {}
        if not any(seq > positions.get(s, 0) for s, seq in ahead.items()):
            continue
        behind = True
        upto = {s: max(seq, positions.get(s, 0)) for s, seq in ahead.items()}
        done = await rebuild(
            store, green, projection, runners=runners, upto=upto, start=positions, cancel=cancel
        )
        state[key] = (make, green, done.positions)
    return behind


def _cut_over_all(
    live: Engine,
    files: list[str],
    parts: list[list[Callable[[], Projection]]],
    greens: list[Engine],
    rebuilt: dict[str, Rebuilt],
) -> None:
    if live.dialect.name != "sqlite":
        # PostgreSQL: row by row, one read model per transaction, as `audit.bluegreen` does.
        for part, green in zip(parts, greens, strict=True):
            for make in part:
                projection = make()
                cut_over(live, green, projection, rebuilt[projection.key])
        return
    # Every table in the live database first: with the group files attached, a statement
    # naming a table the live database lacks would reach the attached file's table of that
    # name (SQLite looks in main, then in each attached database).
    bookkeeping.create_all(live)
    for built in rebuilt.values():
        for table in built.tables:
            table.create(live, checkfirst=True)
    with live.connect().execution_options(**WRITER) as conn:
        aliases = attach(conn, files)
        try:
            with conn.begin():  # BEGIN IMMEDIATE: the live runners wait for it
                keys = list(rebuilt)
                current = conn.execute(
                    select(checkpoints.c.projection, checkpoints.c.stream, checkpoints.c.seq).where(
                        checkpoints.c.projection.in_(keys)
                    )
                ).all()
                for key, stream, seq in current:
                    if seq > rebuilt[key].positions.get(stream, 0):
                        raise LiveMovedOn(key)
                for key, built in rebuilt.items():
                    for table in reversed(built.tables):
                        conn.execute(table.delete())
                    conn.execute(parked.delete().where(parked.c.projection == key))
                    conn.execute(checkpoints.delete().where(checkpoints.c.projection == key))
                for path, part in zip(files, parts, strict=True):
                    copy_group(conn, aliases[path], part, fresh=False)
        finally:
            detach(conn, aliases)
