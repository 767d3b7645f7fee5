"""(6) The `eventsourcing` library side by side: the same number of events appended and read.

Three operations each side, one at a time (the library is synchronous):
- append: one new event on an aggregate already in memory, saved (ours: EventStore.append);
- command: load the aggregate from its events, decide, save (ours: send_command to a running
  CommandService, which also records the command id for idempotency);
- read: every event back, decoded (ours: EventStore.read_stream).
Our figure is the value, the library's the baseline: ratio > 1 means we are faster/more.
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from bench.context import BenchContext
from bench.figures import Figure
from bench.workload import BENCH, COMMANDS, AmendContract
from bootstrap.parts import command_service
from contracts_schema.subjects import BoundedContext
from eventstore.clock import SystemClock
from eventstore.service_app import serve_in_process
from eventstore.serving import send_command
from eventstore.store import AggregateHistory, CommandMetadata, EventStore, NewEvent

PEER = BoundedContext("peer", "PEER")
DAY0 = date(2020, 1, 1)
NAMESPACE = UUID("6f1b1a52-0b0c-4d5e-9f57-5a0c7f3f2b10")
EVENTS_PER_AGGREGATE = 10


class Contract(Aggregate):
    @event("Created")
    def __init__(self, contract_id: str) -> None:
        self.contract_id = contract_id
        self.amendments = 0

    @event("Amended")
    def amend(self, summary: str, amended_on: str) -> None:
        self.amendments += 1


class Contracts(Application[UUID]):
    def create(self, contract_id: str) -> UUID:
        contract = Contract(contract_id)
        self.save(contract)
        return contract.id

    def amend(self, contract_id: UUID, summary: str, amended_on: str) -> None:
        contract: Contract = self.repository.get(contract_id)
        contract.amend(summary, amended_on)
        self.save(contract)

    def read_all(self) -> int:
        count, start = 0, 1
        while True:
            batch = self.recorder.select_notifications(start, 1000)
            for notification in batch:
                self.mapper.to_domain_event(notification)
            count += len(batch)
            if len(batch) < 1000:
                return count
            start = batch[-1].id + 1


def their_figures(app: Contracts, n: int) -> dict[str, float]:
    aggregates = max(1, n // EVENTS_PER_AGGREGATE)
    ids = [app.create(f"E{k}") for k in range(aggregates)]
    held: dict[UUID, Contract] = {i: app.repository.get(i) for i in ids}
    started = time.perf_counter()
    for k in range(n):
        contract = held[ids[k % aggregates]]
        contract.amend("indexation", (DAY0 + timedelta(days=k)).isoformat())
        app.save(contract)
    append = n / (time.perf_counter() - started)
    started = time.perf_counter()
    for k in range(n):
        app.amend(ids[k % aggregates], "indexation", (DAY0 + timedelta(days=k)).isoformat())
    command = n / (time.perf_counter() - started)
    started = time.perf_counter()
    read = app.read_all() / (time.perf_counter() - started)
    return {"append": append, "command": command, "read": read}


async def our_figures(ctx: BenchContext, n: int, tag: str) -> dict[str, float]:
    clock = SystemClock()
    store = EventStore(ctx.client, clock)
    context = BoundedContext(f"peer{tag}", f"PEER{tag.upper()}")
    await store.ensure_stream(context)
    aggregates = max(1, n // EVENTS_PER_AGGREGATE)
    heads = {k: AggregateHistory(context, "contract", f"E{k}", (), 0) for k in range(aggregates)}
    started = time.perf_counter()
    for k in range(n):
        head = heads[k % aggregates]
        new = NewEvent("ContractAmended", 1, {"summary": "indexation"}, clock.now())
        stored = await store.append(head, [new], CommandMetadata(f"{tag}-a-{k}", "bench", "c"))
        heads[k % aggregates] = AggregateHistory(
            context, "contract", head.aggregate_id, (stored[-1],), stored[-1].seq
        )
    append = n / (time.perf_counter() - started)
    started = time.perf_counter()
    count = 0
    async for _ in store.read_stream(context):
        count += 1
    read = count / (time.perf_counter() - started)
    service = command_service(COMMANDS, EventStore(ctx.service_nc, clock), clock)
    server = await serve_in_process(ctx.service_nc, [service])
    try:
        started = time.perf_counter()
        for k in range(n):
            await send_command(
                ctx.client,
                BENCH,
                AmendContract(
                    command_id=f"peer-{tag}-{k}",
                    contract_id=f"E{tag}-{k % aggregates}",
                    summary="indexation",
                    amended_on=DAY0 + timedelta(days=k),
                ),
            )
        command = n / (time.perf_counter() - started)
    finally:
        await server.stop()
    return {"append": append, "command": command, "read": read}


def postgres_env(ctx: BenchContext) -> dict[str, Any]:
    database = "eventsourcing_peer"
    ctx.postgres.create_database(database)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": database,
        "POSTGRES_HOST": "127.0.0.1",
        "POSTGRES_PORT": str(ctx.postgres.port),
        "POSTGRES_USER": "postgres",
        "POSTGRES_PASSWORD": "unused-trust-auth",
    }


async def run(ctx: BenchContext) -> list[Figure]:
    n = ctx.config.peer_events
    figures: list[Figure] = []
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bench-es-") as tmp:
        backends = {
            "SQLite": {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": f"{tmp}/es.db",
            },
            "PostgreSQL": postgres_env(ctx),
        }
        for label, env in backends.items():
            theirs = their_figures(Contracts(env=env), n)
            ours = await our_figures(ctx, n, label[:2].lower())
            for op in ("append", "command", "read"):
                target, met = "", None
                if op == "command":  # issue 18: >= 2x on PostgreSQL, >= 1x on SQLite
                    times = 2 if label == "PostgreSQL" else 1
                    target = f">= {times}x eventsourcing on {label}"
                    met = ours[op] >= times * theirs[op]
                figures.append(
                    Figure(
                        "peer",
                        f"{op}, {n:,} events, one at a time, vs eventsourcing/{label}",
                        "events/s",
                        round(ours[op], 1),
                        f"eventsourcing {label} recorder",
                        round(theirs[op], 1),
                        target=target,
                        target_met=met,
                    )
                )
    return figures
