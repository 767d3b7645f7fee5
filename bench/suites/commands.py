"""(1) Command throughput and p50/p99 through the command API, against raw async publishes.

The baseline publishes the very envelopes the commands produced, to a twin stream with the
same storage settings, at the same concurrency: what JetStream alone costs.
"""

from __future__ import annotations

from datetime import date, timedelta

from nats.aio.client import Client as NATS

from bench.config import Config
from bench.figures import Figure, latency_ms
from bench.workload import (
    BENCH,
    EVENT_TYPES,
    RAW_STREAM,
    ROUTES,
    AmendContract,
    closed_loop,
    ensure_raw_stream,
)
from eventstore.clock import SystemClock
from eventstore.commands import CommandService
from eventstore.serving import CommandServer, send_command
from eventstore.store import EventStore

DAY0 = date(2020, 1, 1)


async def run(client: NATS, service_nc: NATS, config: Config) -> list[Figure]:
    clock = SystemClock()
    service = CommandService(BENCH, EventStore(service_nc, clock), clock, ROUTES, EVENT_TYPES)
    server = CommandServer(service_nc, service, concurrency=256)
    await server.start()
    await service_nc.flush()  # the subscription is live before the first request
    js = client.jetstream()
    await ensure_raw_stream(js)
    figures: list[Figure] = []
    store = EventStore(client, clock)
    try:
        for c in config.concurrencies:
            figures += await level(client, store, c, config.commands_per_level)
    finally:
        await server.stop()
    return figures


async def level(client: NATS, store: EventStore, c: int, n: int) -> list[Figure]:
    js = client.jetstream()
    first_seq = await store.last_seq(BENCH) + 1
    rejected: list[str] = []

    async def command(w: int, i: int) -> None:
        reply = await send_command(
            client,
            BENCH,
            AmendContract(
                command_id=f"amend-{c}-{i}",
                contract_id=f"K{c}-{w}-{i % 7}",
                summary="indexation",
                amended_on=DAY0 + timedelta(days=i),
            ),
            actor="bench",
        )
        if reply.status != "accepted":
            rejected.append(reply.code)

    commands = await closed_loop(c, n, command)
    bodies = [
        (e.subject, e.envelope.model_dump_json().encode())
        async for e in store.read_stream(BENCH, first_seq)
    ]

    async def publish(_w: int, i: int) -> None:
        subject, body = bodies[i]
        await js.publish("benchraw." + subject, body, stream=RAW_STREAM)

    raw = await closed_loop(c, len(bodies), publish)
    figures = [
        Figure(
            "commands",
            f"throughput, concurrency {c}",
            "cmd/s",
            round(commands.rate, 1),
            "raw JetStream publish of the same envelopes",
            round(raw.rate, 1),
            note=f"{len(rejected)} rejected: {sorted(set(rejected))}" if rejected else "",
        )
    ]
    ours, theirs = latency_ms(commands.latencies), latency_ms(raw.latencies)
    for p in ("p50_ms", "p99_ms"):
        figures.append(
            Figure(
                "commands",
                f"latency {p[:3]}, concurrency {c}",
                "ms",
                ours[p],
                "raw JetStream publish",
                theirs[p],
                higher_is_better=False,
            )
        )
    return figures
