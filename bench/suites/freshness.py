"""(4) Freshness: from a command's reply to its effect being visible in a read-model query,
p50/p99, under a steady background command load. Baseline: from a raw publish's ack to an
ordered consumer receiving that message (what JetStream alone costs)."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import date, timedelta

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy
from sqlalchemy import Engine, text

from bench.context import BenchContext
from bench.figures import Figure, latency_ms
from bench.workload import BENCH, EVENT_TYPES, ROUTES, AmendContract, ensure_raw_stream
from eventstore.clock import SystemClock
from eventstore.commands import CommandService
from eventstore.serving import CommandServer, send_command
from eventstore.store import EventStore

POLL = 0.001
DAY0 = date(2021, 1, 1)


def amendments(engine: Engine, contract_id: str) -> int:
    with engine.connect() as conn:
        value = conn.execute(
            text("SELECT amendments FROM bench_amendments WHERE contract_id = :id"),
            {"id": contract_id},
        ).scalar_one_or_none()
    return int(value or 0)


async def background(client: NATS, per_second: int, stop: asyncio.Event) -> None:
    k = 0
    pending: set[asyncio.Task[object]] = set()
    while not stop.is_set():
        k += 1
        command = AmendContract(
            command_id=f"load-{uuid.uuid4().hex}",
            contract_id=f"L-{k % 50}",
            summary="background",
            amended_on=DAY0 + timedelta(days=k),
        )
        task = asyncio.create_task(send_command(client, BENCH, command))
        pending.add(task)
        task.add_done_callback(pending.discard)
        await asyncio.sleep(1 / per_second)
    await asyncio.gather(*pending, return_exceptions=True)


async def measure_ours(ctx: BenchContext, engine: Engine) -> list[float]:
    samples = []
    for i in range(ctx.config.freshness_samples):
        contract_id = f"F-{i}"
        reply = await send_command(
            ctx.client,
            BENCH,
            AmendContract(
                command_id=f"fresh-{uuid.uuid4().hex}",
                contract_id=contract_id,
                summary="probe",
                amended_on=DAY0,
            ),
        )
        replied = time.perf_counter()
        assert reply.status == "accepted", reply
        # Polling the query is the measurement: visible to a reader, not just projected.
        while await asyncio.to_thread(amendments, engine, contract_id) < 1:  # noqa: ASYNC110
            await asyncio.sleep(POLL)
        samples.append(time.perf_counter() - replied)
    return samples


async def measure_raw(client: NATS, samples: int) -> list[float]:
    js = client.jetstream()
    await ensure_raw_stream(js)
    subject = "benchraw.fresh"
    arrived: dict[bytes, float] = {}
    event = asyncio.Event()

    async def on_message(msg: Msg) -> None:
        arrived[msg.data] = time.perf_counter()
        event.set()

    sub = await js.subscribe(
        subject, ordered_consumer=True, deliver_policy=DeliverPolicy.NEW, cb=on_message
    )
    result = []
    for i in range(samples):
        body = f"probe-{i}-{uuid.uuid4().hex}".encode()
        # From the send, not the ack: the delivery usually beats the ack back to us.
        sent = time.perf_counter()
        await js.publish(subject, body)
        while body not in arrived:
            event.clear()
            await event.wait()
        result.append(arrived[body] - sent)
    await sub.unsubscribe()
    return result


async def run(ctx: BenchContext) -> list[Figure]:
    from bench.projections import AmendmentCounts
    from eventstore.projection import ProjectionRunner
    from eventstore.sql import make_engine

    clock = SystemClock()
    service = CommandService(BENCH, EventStore(ctx.service_nc, clock), clock, ROUTES, EVENT_TYPES)
    server = CommandServer(ctx.service_nc, service)
    await server.start()
    await ctx.service_nc.flush()
    engine = make_engine(f"sqlite:////tmp/bench-fresh-{uuid.uuid4().hex[:8]}.db")
    runner = ProjectionRunner(ctx.service_nc, engine, AmendmentCounts(), batch=100)
    await runner.start()
    await runner.wait_until({BENCH.stream: await service._store.last_seq(BENCH)}, 600)
    stop = asyncio.Event()
    load = asyncio.create_task(background(ctx.client, ctx.config.freshness_load_per_s, stop))
    try:
        ours = await measure_ours(ctx, engine)
        raw = await measure_raw(ctx.client, ctx.config.freshness_samples)
    finally:
        stop.set()
        await load
        await runner.stop()
        await server.stop()
        engine.dispose()
    mine, theirs = latency_ms(ours), latency_ms(raw)
    load_note = f"under {ctx.config.freshness_load_per_s} cmd/s background load; SQLite"
    return [
        Figure(
            "freshness",
            f"reply to visible in a query, {p[:3]}",
            "ms",
            mine[p],
            "raw publish to ordered-consumer delivery",
            theirs[p],
            higher_is_better=False,
            target="p99 <= 50 ms" if p == "p99_ms" else "",
            target_met=mine[p] <= 50 if p == "p99_ms" else None,
            note=load_note,
        )
        for p in ("p50_ms", "p99_ms")
    ]
