"""(2) Rebuild of all projections, SQLite and PostgreSQL, against a raw ordered-consumer
read and decode of the same streams."""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy

from bench.context import BenchContext
from bench.figures import Figure, not_measured
from contracts_schema.envelope import EventEnvelope
from contracts_schema.subjects import CONTEXTS
from eventstore.split_rebuild import GroupBuilt
from eventstore.sql import make_engine

TIMEOUT = 3600.0


def cpu_seconds() -> float:
    """This process's CPU time so far (user and system): on a machine shared with other
    work the wall-clock rates show the load; the CPU an event costs shows the code."""
    t = os.times()
    return t.user + t.system


async def raw_read_decode(nc: NATS, last_seq: dict[str, int]) -> float:
    """Seconds to read every event of the streams with ordered consumers and decode it."""
    started = time.perf_counter()
    for stream, last in last_seq.items():
        if last == 0:
            continue
        context = next(c for c in CONTEXTS.values() if c.stream == stream)
        done = asyncio.Event()

        async def on_message(msg: Msg, last: int = last, done: asyncio.Event = done) -> None:
            EventEnvelope.model_validate_json(msg.data)
            if msg.metadata.sequence.stream >= last:
                done.set()

        sub = await nc.jetstream().subscribe(
            context.event_subjects,
            stream=stream,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.ALL,
            cb=on_message,
            pending_msgs_limit=1_000_000,
        )
        await asyncio.wait_for(done.wait(), TIMEOUT)
        await sub.unsubscribe()
    return time.perf_counter() - started


def projections() -> list[Any]:
    """Every read model the gateway serves from (gateway.projections.ALL), fresh instances."""
    from gateway.projections import ALL

    return [projection() for projection in ALL]


async def rebuild(
    ctx: BenchContext, url: str, positions: dict[str, int] | None = None
) -> tuple[float, int]:
    """Seconds to rebuild every projection into a fresh database; and the events parked."""
    seconds, parked, _cpu = await rebuild_measured(ctx, url, positions)
    return seconds, parked


async def rebuild_measured(
    ctx: BenchContext, url: str, positions: dict[str, int] | None = None
) -> tuple[float, int, float]:
    """Seconds to rebuild every projection into a fresh database; the events parked; and
    the CPU seconds this process spent on it (the read, the checks, the applies)."""
    from bootstrap.parts import projection_runner
    from eventstore.sql import make_engine

    engine = make_engine(url)
    runners = [projection_runner(ctx.service_nc, engine, p, batch=500) for p in projections()]
    started, cpu = time.perf_counter(), cpu_seconds()
    try:
        for runner in runners:
            await runner.start()
        reached = await asyncio.gather(
            *(r.wait_until(positions or ctx.loaded.last_seq, TIMEOUT) for r in runners)
        )
        if not all(reached):
            raise TimeoutError("rebuild did not reach the end of the streams")
        # Done when the read models are as a reader needs them: with every index.
        await asyncio.gather(*(r.read_indexes_built() for r in runners))
        seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        return seconds, sum(r.parked_count for r in runners), cpu
    finally:
        for runner in runners:
            await runner.stop()
        engine.dispose()


def groups() -> tuple[tuple[Any, ...], ...]:
    """The gateway's read models in the product rebuild's two groups, split by each read
    model's measured apply CPU (`Projection.rebuild_cost`, `bench.rebuild_groups`)."""
    from eventstore.split_rebuild import partition
    from gateway.projections import ALL

    parts = partition(ALL, 2)
    # The event log's group (a row per event and more: the most rows) builds in the target
    # itself on SQLite; the other is copied in.
    parts.sort(key=lambda part: not any(make().reads_every_event for make in part))
    return tuple(tuple(part) for part in parts)


def children_cpu() -> float:
    """CPU seconds of this process's ended and waited-for children (the groups' processes
    once their pool is shut down; the servers the bench runs are not ended yet)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class SplitMeasured:
    seconds: float
    parked: int
    cpu: float  # this process (the join) and the groups' processes, imports included
    groups: list[GroupBuilt]  # each group's own CPU and wall, from its job's start
    join_s: float


async def rebuild_split(
    ctx: BenchContext, url: str, positions: dict[str, int] | None = None, *, share: bool = True
) -> SplitMeasured:
    """The product's rebuild of every gateway read model (`audit projections rebuild`): two
    processes, each reading the streams and building its group of read models; on SQLite
    each into a scratch file of its own, joined into `url` (`eventstore.split_rebuild`); on
    PostgreSQL both into `url` at once. With `share` (the product's way) the streams both
    groups read are read and checked by one of them (`eventstore.shared_read`)."""
    from bootstrap.parts import projection_runner
    from eventstore.split_rebuild import Connect, GroupJob, TrustSpec, build_groups, join
    from eventstore.trust import trust_of

    upto = dict(positions or ctx.loaded.last_seq)
    sqlite = url.startswith("sqlite")
    scratch = Path(tempfile.mkdtemp(prefix="bench-split-"))
    # On SQLite the first group builds in the (fresh) target itself, the others beside it.
    urls = [
        url if i == 0 or not sqlite else f"sqlite:///{scratch / f'group-{i}.db'}"
        for i in range(len(groups()))
    ]
    connected = ctx.service_nc.connected_url
    assert connected is not None
    jobs = [
        GroupJob(
            Connect((connected.geturl(),)),
            group_url,
            makers,
            upto,
            TrustSpec.of(trust_of(ctx.service_nc)),
            projection_runner,
            read_indexes=group_url == url,  # a copied group's rows are indexed by the join
        )
        for group_url, makers in zip(urls, groups(), strict=True)
    ]
    started, cpu, child = time.perf_counter(), cpu_seconds(), children_cpu()
    try:
        built = await build_groups(jobs, share=share)
        joined = time.perf_counter()
        if sqlite:
            target = make_engine(url)
            try:
                sources = {
                    g.url.split("///", 1)[-1]: m
                    for g, m in zip(built[1:], groups()[1:], strict=True)
                }
                await asyncio.to_thread(join, target, sources)
            finally:
                target.dispose()
        seconds = time.perf_counter() - started
        cpu = cpu_seconds() - cpu + children_cpu() - child
        parked = sum(g.parked for g in built)
        return SplitMeasured(seconds, parked, cpu, built, time.perf_counter() - joined)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


async def stream_heads(nc: NATS, streams: list[str]) -> dict[str, int]:
    """Each stream's last sequence now: what a rebuild catches up to (the catch-up reads to
    the heads it sees at start, not to the loaded history's end)."""
    js = nc.jetstream()
    return {s: (await js.stream_info(s)).state.last_seq for s in streams}


async def run(ctx: BenchContext) -> list[Figure]:
    # Every event in the streams now, not only the loaded history: in `make bench` the
    # commands suite runs first and appends ~8k events to REGISTRY (amendments, imported
    # releases), which every rebuild here reads and applies too (it catches up to the
    # heads). Counted as the loaded 20,000, the rebuild's rate and CPU per event were off by
    # those events (s33: 27,873 applied, 20,000 counted), and the raw read read fewer.
    heads = await stream_heads(ctx.client, list(ctx.loaded.last_seq))
    n = sum(heads.values())
    extra = n - ctx.loaded.events
    raw_cpu = cpu_seconds()
    raw_s = await raw_read_decode(ctx.client, heads)
    raw_cpu = cpu_seconds() - raw_cpu
    raw_rate = n / raw_s
    try:
        import eventstore.projection  # noqa: F401
    except ImportError:
        return [
            not_measured(
                "replay", "rebuild", "events/s", "raw read+decode", "ProjectionRunner not on main"
            )
        ]
    figures = []
    targets = {"SQLite": ">= 0.5x raw read+decode", "PostgreSQL": ">= 0.5x raw read+decode"}
    load = os.getloadavg()[0]
    counted = (
        f"{n:,} events ({extra:,} of them appended by the suites before this one)"
        if extra
        else f"{n:,} events"
    )
    for label in ("SQLite", "PostgreSQL"):
        if label == "SQLite":
            url = f"sqlite:////tmp/bench-rebuild-{uuid.uuid4().hex[:8]}.db"
        else:
            url = ctx.postgres.create_database(f"rebuild_{uuid.uuid4().hex[:8]}")
        split = await rebuild_split(ctx, url, heads)
        seconds, parked, cpu = split.seconds, split.parked, split.cpu
        if label == "SQLite":
            ctx.read_model_url = url
        rate = n / seconds
        per_group = ", ".join(
            f"{g.cpu_s / n * 1e6:.0f} us/event in {g.wall_s:.1f} s"
            + (f", {g.shared}" if g.shared else "")
            for g in split.groups
        )
        note = (
            f"{counted} in {seconds:.1f} s, two processes ({per_group}"
            + (f"; join {split.join_s:.1f} s" if label == "SQLite" else "")
            + f"); CPU {cpu / n * 1e6:.0f} us/event all told"
            f" (raw read+decode {raw_cpu / n * 1e6:.0f}; load {load:.1f})"
            + (f"; {parked} parked" if parked else "")
        )
        figures.append(
            Figure(
                "replay",
                f"rebuild all projections, {label}",
                "events/s",
                round(rate, 1),
                "raw ordered-consumer read+decode",
                round(raw_rate, 1),
                target=targets[label],
                target_met=rate >= 0.5 * raw_rate,
                note=note,
            )
        )
        # The same rebuild in one process, same run: what the split gives.
        one_url = (
            f"sqlite:////tmp/bench-rebuild-{uuid.uuid4().hex[:8]}.db"
            if label == "SQLite"
            else ctx.postgres.create_database(f"rebuild_{uuid.uuid4().hex[:8]}")
        )
        one_s, one_parked, one_cpu = await rebuild_measured(ctx, one_url, heads)
        figures.append(
            Figure(
                "replay",
                f"rebuild all projections, {label}, one process",
                "events/s",
                round(n / one_s, 1),
                "raw ordered-consumer read+decode",
                round(raw_rate, 1),
                note=f"{counted} in {one_s:.1f} s; CPU {one_cpu / n * 1e6:.0f} us/event"
                f" (load {os.getloadavg()[0]:.1f})"
                + (f"; {one_parked} parked" if one_parked else ""),
            )
        )
        if label == "SQLite":
            projected_1m = 1_000_000 / rate
            figures.append(
                Figure(
                    "replay",
                    "1M events rebuild on SQLite (extrapolated at this rate)"
                    if n < 1_000_000
                    else "1M events rebuild on SQLite",
                    "s",
                    round(projected_1m, 1),
                    "raw read+decode of 1M",
                    round(1_000_000 / raw_rate, 1),
                    higher_is_better=False,
                    target="< 60 s",
                    target_met=projected_1m < 60,
                )
            )
    return figures
