"""(1) Command throughput and p50/p99 through the command API, against raw async publishes.

Two routes at each concurrency: the benchmark's minimal route (bench/workload.py: the
command machinery with a trivial rule) and the registry service's real `AmendContract`
route (its validation, aggregate load and fold over the generated history, rules, append).
The baseline publishes the very envelopes the commands produced, to a twin stream with the
same storage settings, at the same concurrency: what JetStream alone costs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

from nats.aio.client import Client as NATS

from bench.config import Config
from bench.figures import Figure, latency_ms
from bench.history.model import History
from bench.workload import (
    BENCH,
    COMMANDS,
    RAW_STREAM,
    AmendContract,
    closed_loop,
    ensure_raw_stream,
)
from bootstrap.parts import command_service, registry_service
from contracts_schema.base import Command
from contracts_schema.registry import commands as cmd
from contracts_schema.subjects import REGISTRY, BoundedContext
from eventstore.clock import SystemClock
from eventstore.service_app import serve_in_process, server_url
from eventstore.serving import send_command
from eventstore.store import EventStore

DAY0 = date(2020, 1, 1)
MakeCommand = Callable[[int, int, int], Command]  # (concurrency, worker, i) -> command


def signed_contracts(history: History) -> list[tuple[str, datetime]]:
    """Contracts of the history that were never terminated, with their signature day."""
    signed: dict[str, datetime] = {}
    terminated: set[str] = set()
    for commit in history.commits:
        for e in commit.events:
            if e.event_type == "ContractSigned":
                day = date.fromisoformat(str(e.payload["signed_on"])[:10])
                signed[e.payload["contract_id"]] = datetime.combine(day, time(12), tzinfo=UTC)
            elif e.event_type == "ContractTerminated":
                terminated.add(e.payload["contract_id"])
    return sorted((k, v) for k, v in signed.items() if k not in terminated)


async def run(client: NATS, service_nc: NATS, config: Config, history: History) -> list[Figure]:
    clock = SystemClock()
    store = EventStore(service_nc, clock)
    # The containers' FastStream subscriber, with room for the benchmark's concurrency.
    broker = await serve_in_process(
        server_url(service_nc),
        [command_service(COMMANDS, store, clock), registry_service(store, clock)],
        max_workers=256,
    )
    await ensure_raw_stream(client.jetstream())
    contracts = signed_contracts(history)

    def bench_command(c: int, w: int, i: int) -> Command:
        return AmendContract(
            command_id=f"amend-{c}-{i}",
            contract_id=f"K{c}-{w}-{i % 7}",
            summary="indexation",
            amended_on=DAY0 + timedelta(days=i),
        )

    def registry_command(c: int, w: int, i: int) -> Command:
        # Each worker owns its own contracts (w, w + c, ...): no write conflicts by design.
        mine = contracts[w::c] or contracts[w % len(contracts) :: len(contracts)]
        contract_id, signed_on = mine[(i // c) % len(mine)]
        return cmd.AmendContract(
            command_id=f"reg-amend-{c}-{i}",
            contract_id=contract_id,
            summary="indexation",
            occurred_at=signed_on,
        )

    figures: list[Figure] = []
    reader = EventStore(client, clock)
    try:
        for c in config.concurrencies:
            figures += await level(client, reader, BENCH, "bench route", bench_command, c, config)
            figures += await level(
                client, reader, REGISTRY, "registry AmendContract", registry_command, c, config
            )
    finally:
        await broker.stop()
    return figures


async def level(
    client: NATS,
    store: EventStore,
    context: BoundedContext,
    route: str,
    make: MakeCommand,
    c: int,
    config: Config,
) -> list[Figure]:
    js = client.jetstream()
    n = config.commands_per_level
    first_seq = await store.last_seq(context) + 1
    rejected: list[str] = []

    async def command(w: int, i: int) -> None:
        reply = await send_command(client, context, make(c, w, i), actor="bench")
        if reply.status != "accepted":
            rejected.append(reply.code)

    commands = await closed_loop(c, n, command)
    bodies = [
        (e.subject, e.envelope.model_dump_json().encode())
        async for e in store.read_stream(context, first_seq)
    ]

    async def publish(_w: int, i: int) -> None:
        subject, body = bodies[i]
        await js.publish("benchraw." + subject, body, stream=RAW_STREAM)

    raw = await closed_loop(c, len(bodies), publish)
    figures = [
        Figure(
            "commands",
            f"{route}: throughput, concurrency {c}",
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
                f"{route}: latency {p[:3]}, concurrency {c}",
                "ms",
                ours[p],
                "raw JetStream publish",
                theirs[p],
                higher_is_better=False,
            )
        )
    return figures
