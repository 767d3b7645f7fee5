"""(5) Scale curves: rebuild time against history size (prefixes of the loaded history),
and as-of read latency against events per aggregate (10 .. 10,000)."""

from __future__ import annotations

import json
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

from nats.aio.client import Client as NATS

from bench.context import BenchContext
from bench.figures import Figure
from bench.suites.replay import raw_read_decode, rebuild
from bench.workload import DECIDER, ContractAmended
from contracts_schema.subjects import CONTEXTS, BoundedContext
from eventstore.clock import SystemClock
from eventstore.store import AggregateHistory, CommandMetadata, EventStore, NewEvent

CURVE = BoundedContext("curve", "CURVE")
START = datetime(2010, 1, 1, tzinfo=UTC)
REPEATS = 15


def prefix_positions(ctx: BenchContext, events: int) -> dict[str, int]:
    """Stream positions after the first `events` events (the loader keeps commit order)."""
    positions: dict[str, int] = {}
    seen = 0
    for commit in ctx.history.commits:
        if seen + len(commit.events) > events:
            break
        stream = CONTEXTS[commit.context].stream
        positions[stream] = positions.get(stream, 0) + len(commit.events)
        seen += len(commit.events)
    return positions


async def rebuild_curve(ctx: BenchContext) -> list[Figure]:
    figures = []
    for size in ctx.config.rebuild_sizes:
        if size > ctx.loaded.events:
            continue
        positions = prefix_positions(ctx, size)
        url = f"sqlite:////tmp/bench-curve-{uuid.uuid4().hex[:8]}.db"
        seconds, _ = await rebuild(ctx, url, positions)
        raw = await raw_read_decode(ctx.client, positions)
        figures.append(
            Figure(
                "scale",
                f"rebuild time, {size:,} events, SQLite",
                "s",
                round(seconds, 2),
                "raw read+decode of the same prefix",
                round(raw, 2),
                higher_is_better=False,
            )
        )
    return figures


async def raw_direct_get(nc: NATS, stream: str, subject_filter: str) -> int:
    """The same batched Direct Get as EventStore.load, bytes only: no decode, no fold."""
    count, next_seq = 0, 1
    while True:
        inbox = nc.new_inbox()
        sub = await nc.subscribe(inbox)
        request = {"seq": next_seq, "next_by_subj": subject_filter, "batch": 1000}
        await nc.publish(f"$JS.API.DIRECT.GET.{stream}", json.dumps(request).encode(), inbox)
        pending = 0
        while True:
            msg = await sub.next_msg(timeout=5)
            status = (msg.headers or {}).get("Status")
            if status == "404":
                await sub.unsubscribe()
                return count
            if status == "204":
                pending = int((msg.headers or {}).get("Nats-Num-Pending", "0"))
                break
            count += 1
            next_seq = int((msg.headers or {})["Nats-Sequence"]) + 1
        await sub.unsubscribe()
        if pending == 0:
            return count


async def as_of_curve(ctx: BenchContext) -> list[Figure]:
    store = EventStore(ctx.client, SystemClock())
    await store.ensure_stream(CURVE)
    figures = []
    for n in ctx.config.events_per_aggregate:
        aggregate = f"A{n}"
        head = AggregateHistory(CURVE, "contract", aggregate, (), 0)
        for first in range(0, n, 100):
            batch = [
                NewEvent(
                    "ContractAmended",
                    1,
                    {"contract_id": aggregate, "summary": "s", "amended_on": "2010-01-01"},
                    START + timedelta(days=k),
                )
                for k in range(first, min(first + 100, n))
            ]
            stored = await store.append(
                head, batch, CommandMetadata(f"{aggregate}-{first}", "b", "c")
            )
            head = AggregateHistory(CURVE, "contract", aggregate, (stored[-1],), stored[-1].seq)
        as_of = START + timedelta(days=n // 2)
        ours, raw = [], []
        for _ in range(REPEATS):
            t = time.perf_counter()
            history = await store.load(CURVE, "contract", aggregate)
            state = DECIDER.initial
            for event in history.events:
                if event.envelope.occurred_at <= as_of:
                    state = DECIDER.evolve(state, ContractAmended(**event.envelope.payload))
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            await raw_direct_get(
                ctx.client, CURVE.stream, CURVE.aggregate_filter("contract", aggregate)
            )
            raw.append(time.perf_counter() - t)
        figures.append(
            Figure(
                "scale",
                f"as-of read (load + fold to date), {n:,} events per aggregate, median",
                "ms",
                round(statistics.median(ours) * 1000, 3),
                "raw Direct Get of the same messages (no decode)",
                round(statistics.median(raw) * 1000, 3),
                higher_is_better=False,
            )
        )
    return figures


async def run(ctx: BenchContext) -> list[Figure]:
    return await rebuild_curve(ctx) + await as_of_curve(ctx)
