"""A rebuild on two cores: the read models in groups, each group built by a process of its own.

One process rebuilding every read model spends ~8x the CPU of reading and decoding the
streams (the applies: folds, timelines, rows), on one core. Here each group of read models
is built by its own process, which reads the streams itself (a read and decode is ~40 us an
event: cheaper than shipping decoded events between processes) and checks what it applies
as every reader does (`eventstore.trust`: hashes, signatures, duplicates), into a database
nobody reads yet. On SQLite that is a fresh file per group written without syncs (a crash
leaves a scratch file to throw away, never a live one); `join` then copies the
groups' tables into the target with `ATTACH` and `INSERT ... SELECT` (the copy runs in
SQLite's C code, not row by row in Python). The bench's PostgreSQL figure has the groups
write their own tables of the target database at once (`bench.suites.replay.rebuild_split`);
the product's rebuild (`audit.bluegreen_split`) always builds scratch SQLite files and, on a
PostgreSQL live database, copies them in row by row.

What it relies on: a group's read models read only what the group's process reads (each
runner reads its own projection's streams), and the groups' tables are disjoint.

A read model that keeps rows derived from its own rows per batch (`BatchProjection.
defers_derived`: enrolment's programme spans and running totals) leaves them out of every
batch of a group building it from nothing on SQLite, and derives them once from the
finished rows when the group's runners have stopped (`_derive`, in the group's process,
before it hands back its result): per batch they were recomputed for every tender a batch
touched, most of them again each batch (rebuild22). Nobody reads a group's database before
it ends, and a group that fails is thrown away, so the rows are never seen without them.

A login that may not create consumers (the read-only auditor of deploy/nats, which `audit
projections rebuild` uses against `make run`) cannot run the runners' catch-up or live
subscribers: its groups read by direct gets instead (`GroupJob.direct`), as the sequential
rebuild does, and announce nothing (a rebuild's positions are no live runner's news).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
import multiprocessing
import os
import pickle
import signal
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing.connection import Connection as MpConnection
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, Table, event, func, inspect, select

from eventstore import shared_read
from eventstore.bulk import execute
from eventstore.projection import (
    BatchProjection,
    Projection,
    RunnerFactory,
    bookkeeping,
    checkpoints,
    parked,
)
from eventstore.rebuild_indexes import drop, ensure, read_indexes
from eventstore.shared_read import PipeEnd, Sharing
from eventstore.sql import WRITER, make_engine
from eventstore.store import EventStore
from eventstore.trust import Trust, install

TIMEOUT = 3600.0  # seconds a group may take to reach the heads it was given
FINISH = 30.0  # seconds more for a group to hand back its result, or to end when stopped

ProjectionMaker = Callable[[], Projection]
# Rebuild one projection into an engine by direct gets up to `upto` (`audit.rebuild.rebuild`,
# module-level so that a forked group may be handed it); the positions it applied to.
DirectRebuild = Callable[..., Any]


@dataclass(frozen=True)
class Connect:
    """How a group's process reaches NATS (the parent's servers and login)."""

    servers: tuple[str, ...]
    user: str | None = None
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class TrustSpec:
    """The parent's reader trust, as a group's process rebuilds it (keys and settings; its
    verdicts and duplicates are the process's own: it checks what it applies)."""

    keys: Mapping[str, Mapping[str, int | None]]
    verify_signatures: bool
    verify_every_signature: bool

    @classmethod
    def of(cls, trust: Trust) -> TrustSpec:
        keys = {c: dict(k) for c, k in trust.keys.items()}
        return cls(keys, trust.verify_signatures, trust.verify_every_signature)

    def trust(self) -> Trust:
        return Trust(self.keys, self.verify_signatures, self.verify_every_signature)


@dataclass(frozen=True)
class GroupJob:
    connect: Connect
    url: str  # the group's database
    makers: tuple[ProjectionMaker, ...]  # picklable: classes or module-level callables
    upto: Mapping[str, int]  # stream -> the sequence to reach
    trust: TrustSpec
    runners: RunnerFactory  # module-level (`bootstrap.parts.projection_runner`)
    batch: int = 500
    # False for a group whose rows are copied into another database (`join`, the product's
    # cut-over): the copy's target has or builds the read indexes; the group's own would be
    # built over every row and thrown away (~1 s of CPU at 20k events).
    read_indexes: bool = True
    # Set for a login that may not create consumers: each read model rebuilt by direct gets
    # (`DirectRebuild`), one after the other, instead of by the runners' subscribers.
    direct: DirectRebuild | None = None
    # This group's part in reading the streams it shares with the others once
    # (`eventstore.shared_read`): set by `build_groups`.
    share: PipeEnd | None = None


@dataclass(frozen=True)
class GroupBuilt:
    url: str
    keys: tuple[str, ...]  # the projections' keys
    positions: dict[str, dict[str, int]]  # projection key -> stream -> applied sequence
    parked: int
    cpu_s: float  # the group's process, from its job's start (imports before it left out)
    wall_s: float
    shared: str = ""  # what it took from (or handed to) the other groups, for the bench


def scratch_engine(url: str) -> Engine:
    """An engine on a rebuild target nobody reads yet. On SQLite: no syncs (a crash leaves a
    scratch file that is thrown away). The journal stays WAL: the group's runners read the
    file (their positions, an aggregate's parked events) while one of them holds a write
    transaction, and in a rollback-journal mode such a read waits for the writer's commit
    (a writer that spilled its cache holds the file exclusively) -- from the writer's own
    thread: "database is locked". `journal_mode=OFF` would also make the savepoint that
    parks one event unable to roll back."""
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _scratch(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA synchronous=OFF")
            cursor.close()

    return engine


def _die_with_parent() -> None:
    """A group's process ends with the one that started it (killed half way: no orphan
    left applying into a scratch file nobody will join)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def build_group(job: GroupJob, pipes: shared_read.Pipes | None = None) -> GroupBuilt:
    """Run in a group's process: catch every read model of the group up to `job.upto`."""
    times, wall = os.times(), time.perf_counter()
    built = asyncio.run(_build(job, pipes))
    after = os.times()
    cpu = (after.user - times.user) + (after.system - times.system)
    return GroupBuilt(
        job.url, built[0], built[1], built[2], round(cpu, 3), time.perf_counter() - wall, built[3]
    )


async def _build(
    job: GroupJob, pipes: shared_read.Pipes | None
) -> tuple[tuple[str, ...], dict[str, dict[str, int]], int, str]:
    import nats

    options: dict[str, Any] = {"connect_timeout": 5, "max_reconnect_attempts": 3}
    if job.connect.user:
        options.update(user=job.connect.user, password=job.connect.password)
    nc = await nats.connect(list(job.connect.servers), **options)
    shared: Sharing | None = None
    try:
        engine = scratch_engine(job.url)
        try:
            install(job.trust.trust(), nc)
            if job.direct is not None:
                return (*await _build_by_direct_gets(job, nc, engine), "")
            if pipes is not None:
                shared = shared_read.install(nc, pipes)
            return await _run_group(job, nc, engine, shared)
        finally:
            if shared is not None:
                await shared.close()
            engine.dispose()
    finally:
        await nc.close()


async def _run_group(
    job: GroupJob, nc: Any, engine: Engine, shared: Sharing | None
) -> tuple[tuple[str, ...], dict[str, dict[str, int]], int, str]:
    runners = [job.runners(nc, engine, make(), batch=job.batch) for make in job.makers]
    for runner in runners:
        runner.build_read_indexes = job.read_indexes
    deferring = await asyncio.to_thread(_deferring, engine, [r.projection for r in runners])
    for projection in deferring:
        projection.deferring = True
    try:
        for runner in runners:
            await runner.start()
        reached = await asyncio.gather(*(r.wait_until(dict(job.upto), TIMEOUT) for r in runners))
        if not all(reached):
            raise TimeoutError(f"group {job.url} did not reach {dict(job.upto)}")
        await asyncio.gather(*(r.read_indexes_built() for r in runners))
    finally:
        for runner in runners:
            await runner.stop()
    # Every runner stopped: no batch is prepared or written beside the derivation.
    await asyncio.to_thread(_derive, engine, deferring)
    keys = tuple(r.projection.key for r in runners)
    positions = {r.projection.key: dict(r.positions) for r in runners}
    note = shared.note() if shared is not None else ""
    return keys, positions, sum(r.parked_count for r in runners), note


def _deferring(engine: Engine, projections: Sequence[Projection]) -> list[BatchProjection]:
    """The group's read models that leave their derived rows out of every batch and derive
    them at the end (`BatchProjection.defers_derived`): on SQLite, into a database with no
    position of theirs yet (the group's fresh one, nobody reads it until the group ends)."""
    if engine.dialect.name != "sqlite":
        return []
    chosen = [p for p in projections if isinstance(p, BatchProjection) and p.defers_derived]
    if not chosen:
        return []
    with engine.connect() as conn:
        if not inspect(conn).has_table(checkpoints.name):
            return chosen
        started = set(
            conn.execute(
                select(checkpoints.c.projection).where(
                    checkpoints.c.projection.in_([p.key for p in chosen])
                )
            ).scalars()
        )
    return [p for p in chosen if p.key not in started]


def _derive(engine: Engine, projections: Sequence[BatchProjection]) -> None:
    """What the deferring read models left out, derived from their finished rows, in one
    transaction (a failure fails the group: its database is thrown away)."""
    if not projections:
        return
    with engine.connect().execution_options(**WRITER) as conn, conn.begin():
        for projection in projections:
            execute(conn, projection.derived(conn.dialect))
    for projection in projections:
        projection.deferring = False


async def _build_by_direct_gets(
    job: GroupJob, nc: Any, engine: Engine
) -> tuple[tuple[str, ...], dict[str, dict[str, int]], int]:
    from eventstore.clock import SystemClock

    assert job.direct is not None
    store = EventStore(nc, SystemClock())  # read only: nothing is sealed here
    keys: list[str] = []
    positions: dict[str, dict[str, int]] = {}
    for make in job.makers:
        projection = make()
        built = await job.direct(store, engine, projection, runners=job.runners, upto=job.upto)
        keys.append(projection.key)
        positions[projection.key] = dict(built.positions)
    with engine.connect() as conn:
        count = conn.execute(
            parked.select().with_only_columns(func.count()).where(parked.c.projection.in_(keys))
        ).scalar_one()
    return tuple(keys), positions, int(count)


async def may_create_consumers(nc: Any, stream: str, timeout: float = 2.0) -> bool:
    """Whether this login may run the consumers a group's runners run on `stream`: a durable
    one created by name with a filter, its info asked, a message pulled, then deleted (a
    runner deletes its durable to restart it after its position), the way
    `eventstore.subscription.DurableSubscriber` does each. An ephemeral consumer (what this
    asked before, correct13) is another API subject: a login allowed only that one was told
    yes, and its groups' runners then retried a durable they were refused until the group's
    timeout. A refused request is no reply, only the server's error: it ends in the timeout.
    Probed on a stream with messages (a pull on an empty one would wait the timeout)."""
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    js = nc.jetstream(timeout=timeout)
    name = f"rebuild-probe-{nc.new_inbox().rsplit('.', 1)[-1]}"
    created = False
    try:
        subjects = (await js.stream_info(stream)).config.subjects or [">"]
        config = ConsumerConfig(
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.LAST,
            inactive_threshold=5.0,  # gone by itself should the delete below not arrive
            mem_storage=True,
        )
        sub = await js.pull_subscribe(subjects[0], durable=name, stream=stream, config=config)
        created = True
        await sub.consumer_info()
        [message] = await sub.fetch(1, timeout=timeout)
        await message.ack()
        await js.delete_consumer(stream, name)
        created = False
    except Exception:
        return False
    finally:
        if created:
            with contextlib.suppress(Exception):
                await js.delete_consumer(stream, name)
    return True


class GroupDied(BrokenProcessPool):
    """A group's process ended without handing back its result (killed, or died)."""


class GroupTraceback(Exception):
    """Where a group's process failed (its traceback, as text: the cause of what it raised)."""


def _group_main(job: GroupJob, result: MpConnection) -> None:
    """A group's process, forked for this job alone: it owns its pipe descriptors from its
    first line (`shared_read.Pipes.adopt`: the other groups' closed while their numbers are
    still theirs) to its last, whatever happens between (a failure before the sharing is
    installed -- NATS not reachable, a scratch database that cannot open -- ends the pipes
    to the other groups at once, which then read alone), and hands back what it built or
    what it raised."""
    _die_with_parent()
    # The parent's event loop may have taken SIGTERM (the service's, the CLI's): here it ends
    # the group, as `_stop` means it to, and no signal wakes the parent's loop's descriptor.
    with contextlib.suppress(ValueError):  # (only in a main thread; the fork's is one)
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    pipes = shared_read.Pipes.adopt(job.share) if job.share is not None else None
    outcome: tuple[str, Any]
    try:
        outcome = ("built", build_group(job, pipes))
    except BaseException as exc:  # handed to the parent, which raises it
        outcome = ("failed", (_portable(exc), "".join(traceback.format_exception(exc))))
    finally:
        if pipes is not None:
            pipes.close()
    with contextlib.suppress(OSError):  # the parent gone: nobody to tell
        result.send(outcome)
    result.close()


def _portable(exc: BaseException) -> BaseException:
    """`exc` as the parent can unpickle it."""
    try:
        portable: BaseException = pickle.loads(pickle.dumps(exc))
    except Exception:  # one that does not travel: its text does
        portable = RuntimeError(f"{type(exc).__name__}: {exc}")
    return portable


async def build_groups(jobs: Sequence[GroupJob], *, share: bool = True) -> list[GroupBuilt]:
    """Every job in a process of its own, at once. Forked, not spawned: a spawned
    interpreter imports the read models' code again (~1-2.5 s of CPU each, a rebuild of
    20,000 events' worth of wall on a quiet machine); a forked child has it already. The
    child uses nothing of this process's event loop, threads or connections: it starts its
    own loop, connection and engine (`build_group`).

    With `share`, the streams several groups read are read and checked once: each range by
    one of the groups in turn, which hands it to the others (`eventstore.shared_read`).

    A process per job (not a pool: a pool's idle worker kept a failed job's descriptors
    open, and a worker may run two jobs, review17 #1 and #3). The first group that fails or
    dies fails the whole: the others are stopped at once, never waited for; and the whole
    is bounded by `TIMEOUT` (a group's own bound) and a little more."""
    jobs, made = _sharing(jobs) if share else (list(jobs), [])
    context = multiprocessing.get_context("fork")
    started: list[tuple[Any, MpConnection]] = []
    try:
        for i, job in enumerate(jobs):
            receive, send = context.Pipe(duplex=False)
            process = context.Process(
                target=_group_main, args=(job, send), name=f"rebuild-group-{i}", daemon=True
            )
            try:
                process.start()
            except BaseException:
                receive.close()
                raise
            finally:
                send.close()  # the child's alone: its end is the pipe's end (`_outcome`)
            started.append((process, receive))
        _close(made)  # the groups hold the sharing's pipes now: a pipe ends with its group
        return await _outcomes(started)
    finally:
        _close(made)
        await asyncio.to_thread(_stop, started)


async def _outcomes(started: Sequence[tuple[Any, MpConnection]]) -> list[GroupBuilt]:
    tasks = [asyncio.ensure_future(_outcome(p, r)) for p, r in started]
    try:
        done, pending = await asyncio.wait(
            tasks, timeout=TIMEOUT + FINISH, return_when=asyncio.FIRST_EXCEPTION
        )
        failed = [t.exception() for t in tasks if t in done and t.exception() is not None]
        # What a group raised tells more than that another one was stopped or died after it.
        failed.sort(key=lambda e: isinstance(e, GroupDied))
        if failed:
            raise failed[0]  # type: ignore[misc]
        if pending:
            raise TimeoutError(f"rebuild groups still running after {TIMEOUT + FINISH:g}s")
        return [t.result() for t in tasks]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _outcome(process: Any, receive: MpConnection) -> GroupBuilt:
    """What the group's process hands back: its result, its exception raised here, or
    `GroupDied` when its pipe ends without either (its only writer, the child, is gone)."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()
    fd = receive.fileno()
    loop.add_reader(fd, _settle, ready)
    try:
        await ready
    finally:
        loop.remove_reader(fd)
    try:
        kind, value = await asyncio.to_thread(receive.recv)
    except (EOFError, OSError):
        await asyncio.to_thread(process.join, FINISH)
        raise GroupDied(
            f"the rebuild's {process.name} ended without its result (exit code {process.exitcode})"
        ) from None
    if kind == "failed":
        exc, text = value
        raise exc from GroupTraceback(text)  # (a cause does not travel in a pickle)
    built: GroupBuilt = value
    return built


def _settle(ready: asyncio.Future[None]) -> None:
    if not ready.done():
        ready.set_result(None)


def _stop(started: Sequence[tuple[Any, MpConnection]]) -> None:
    """Every group's process ended (stopped if still running: the rebuild failed or was
    cancelled) and its result pipe closed."""
    for process, _ in started:
        if process.is_alive():
            process.terminate()
    for process, receive in started:
        process.join(FINISH)
        if process.is_alive():
            process.kill()
            process.join()
        receive.close()


def _sharing(jobs: Sequence[GroupJob]) -> tuple[list[GroupJob], list[int]]:
    """The jobs with their `share` set: each stream more than one job reads is read and
    checked in turns, each range by one of them (`eventstore.shared_read`). Not for jobs
    that read by direct gets."""
    if len(jobs) < 2 or any(j.direct is not None for j in jobs):
        return list(jobs), []
    keys = [shared_read.keys_of(c for m in j.makers for c in m().contexts) for j in jobs]
    ends, made = shared_read.pipes(keys)
    return [dataclasses.replace(j, share=end) for j, end in zip(jobs, ends, strict=True)], made


def _close(fds: list[int]) -> None:
    while fds:
        with contextlib.suppress(OSError):
            os.close(fds.pop())


def partition(makers: Sequence[ProjectionMaker], groups: int) -> list[list[ProjectionMaker]]:
    """The read models in at most `groups` groups of about equal `Projection.rebuild_cost`
    (none left empty). The streams' read and check is dealt out evenly among the groups
    that read them (`build_groups(share=True)`), so the applies alone tell the groups apart.
    Two groups: of every split the one whose costlier group costs least (a handful of read
    models); more: the costliest first, each into the group of least cost so far."""
    if groups == 2 and 2 <= len(makers) <= 16:
        return _best_pair(makers)
    costed = sorted(makers, key=lambda m: -m().rebuild_cost)
    parts: list[list[ProjectionMaker]] = [[] for _ in range(min(groups, len(costed)))]
    totals = [0] * len(parts)
    for make in costed:
        i = totals.index(min(totals))
        parts[i].append(make)
        totals[i] += make().rebuild_cost
    return parts


def _best_pair(makers: Sequence[ProjectionMaker]) -> list[list[ProjectionMaker]]:
    costs = [make().rebuild_cost for make in makers]
    best: tuple[int, list[int]] | None = None
    for mask in range(1, 2 ** (len(makers) - 1)):  # the last read model always in group 0
        one = [i for i in range(len(makers)) if mask >> i & 1]
        worst = max(sum(costs[i] for i in one), sum(costs) - sum(costs[i] for i in one))
        if best is None or worst < best[0]:
            best = (worst, one)
    assert best is not None
    chosen = set(best[1])
    return [
        [m for i, m in enumerate(makers) if i not in chosen],
        [m for i, m in enumerate(makers) if i in chosen],
    ]


def tables_of(makers: Sequence[ProjectionMaker]) -> MetaData:
    metadata = MetaData()
    for make in makers:
        make().define(metadata)
    return metadata


def _columns(table: Table, skip: str = "") -> str:
    return ", ".join(f'"{c.name}"' for c in table.columns if c.name != skip)


def join(target: Engine, sources: Mapping[str, Sequence[ProjectionMaker]]) -> int:
    """Copy each SQLite source file's read-model tables and bookkeeping rows (checkpoints,
    parked events, live versions) into the fresh SQLite database `target`, in one
    transaction, with `INSERT ... SELECT` over `ATTACH`; the read indexes are built once over
    the joined rows. Returns the rows copied."""
    with target.connect() as conn:
        aliases = attach(conn, list(sources))
        try:
            with conn.begin():
                copied = 0
                for path, makers in sources.items():
                    copied += copy_group(conn, aliases[path], makers, fresh=True)
        finally:
            detach(conn, aliases)
    return copied


def attach(conn: Connection, paths: Sequence[str]) -> dict[str, str]:
    """Attach the SQLite files to `conn` (outside a transaction: SQLite refuses an ATTACH
    inside one); path -> schema alias. A statement that names a table without a schema then
    reaches an attached file's table of that name when the target has none: create the
    target's tables first (`create_all` itself looks in the target only)."""
    raw = conn.connection.driver_connection
    assert raw is not None
    aliases = {}
    for i, path in enumerate(paths):
        aliases[path] = f"group{i}"
        raw.execute(f"ATTACH DATABASE ? AS group{i}", (str(path),))
    return aliases


def detach(conn: Connection, aliases: Mapping[str, str]) -> None:
    raw = conn.connection.driver_connection
    assert raw is not None
    for alias in aliases.values():
        with contextlib.suppress(Exception):  # the connection may be gone with its error
            raw.execute(f"DETACH DATABASE {alias}")


def copy_group(
    conn: Connection,
    alias: str,
    makers: Sequence[ProjectionMaker],
    *,
    fresh: bool,
) -> int:
    """In the caller's transaction on a SQLite target: the group's read-model tables, its
    checkpoints and parked events (and with `fresh`, its live versions) copied from the
    attached `alias`. The target's tables of these read models must be empty (the caller
    cleared them in this transaction). With `fresh` the tables are created without their
    read indexes and indexed once at the end. Returns the read-model rows copied."""
    from eventstore import projection_versions

    metadata = tables_of(makers)
    if fresh:  # (otherwise the caller created them before attaching: see `attach`)
        bookkeeping.create_all(conn)
        metadata.create_all(conn)
        drop(conn, read_indexes(metadata))
    copied = 0
    for table in metadata.sorted_tables:
        cols = _columns(table)
        copied += conn.exec_driver_sql(
            f'INSERT INTO main."{table.name}" ({cols}) SELECT {cols} FROM {alias}."{table.name}"'
        ).rowcount
    keys = tuple(make().key for make in makers)
    _copy_rows(conn, alias, checkpoints, "projection", keys)
    _copy_rows(conn, alias, parked, "projection", keys, skip="id")
    if fresh:
        names = tuple(make().name for make in makers)
        _copy_rows(conn, alias, projection_versions.versions, "name", names)
        ensure(conn, metadata)
    return copied


def _marks(values: Sequence[str]) -> str:
    return ", ".join("?" for _ in values)


def _copy_rows(
    conn: Connection, alias: str, table: Table, column: str, values: Sequence[str], skip: str = ""
) -> None:
    cols = _columns(table, skip)
    conn.exec_driver_sql(
        f'INSERT INTO main."{table.name}" ({cols}) SELECT {cols} FROM {alias}."{table.name}"'
        f' WHERE "{column}" IN ({_marks(values)})',
        tuple(values),
    )
