"""(6) The `eventsourcing` library side by side: the same number of events appended and read.

Three operations each side, one at a time (the library is synchronous):
- append: one new event on an aggregate already in memory, saved (ours: EventStore.append);
- command: load the aggregate from its events, decide, save (ours: send_command to a running
  CommandService, which also records the command id for idempotency);
- read: every event back, decoded, one pass at the end (ours: EventStore.read_stream of the
  appended events; the library: every notification it recorded, commands' events included).
Our figure is the value, the library's the baseline: ratio > 1 means we are faster/more.

Stable figures: append and command run in `ROUNDS` short rounds that alternate which side goes
first, each round on fresh aggregates (the library folds an aggregate from its first event, so
longer aggregates would slow its later rounds; the old suite ran the library's commands on
aggregates already 11-20 events long and ours on fresh ones), after one small warm-up round
per side that is not counted. Each figure is the median of the rounds; `extra` keeps every
round and the spread (max / min). Setup (creating aggregates, starting the service) is outside
the clock on both sides. Both sides share the bench process and its garbage collector.

Durability, what an acknowledged event survives (each pair is equal; see `DURABILITY`):
- ours against the library on PostgreSQL and on SQLite: JetStream's file store acks after the
  write to its file and fsyncs every `sync_interval` (default two minutes); the bench's
  PostgreSQL runs with `fsync=off`; the library's SQLite (WAL journal, as the library sets it)
  with `synchronous=NORMAL` (WAL written at each commit, fsynced at checkpoints). All three
  survive a process crash; an OS crash or power loss can lose the last writes.
- "fsync per commit": the library's own default on SQLite, `synchronous=FULL` (an fsync at
  every commit), against ours on a second broker started with `sync_interval: always` (an
  fsync before every ack). Both survive an OS crash. No target on this row; its rates follow
  the shared disk's fsync latency, which swings with the other processes' writes.
The issue's line (>= 2x PostgreSQL, >= 1x SQLite) is judged on the first two. The library was
measured before with `synchronous=FULL` against our unsynced broker: its rate then was the
disk's fsync latency, the main cause of the swing (see bench/findings.md, "peer7").
"""

from __future__ import annotations

import contextlib
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from nats.aio.client import Client as NATS

from bench.context import BenchContext
from bench.figures import Figure
from bench.infra import connected
from bench.workload import BENCH, COMMANDS, AmendContract
from bootstrap.parts import command_service
from contracts_schema.subjects import BoundedContext
from eventstore.clock import SystemClock
from eventstore.nats_launcher import NatsServer
from eventstore.service_app import serve_in_process
from eventstore.serving import send_command
from eventstore.store import AggregateHistory, CommandMetadata, EventStore, NewEvent

PEER = BoundedContext("peer", "PEER")
DAY0 = date(2020, 1, 1)
NAMESPACE = UUID("6f1b1a52-0b0c-4d5e-9f57-5a0c7f3f2b10")
EVENTS_PER_AGGREGATE = 10
ROUNDS = 5
WARM_UP = 50  # events per side before the counted rounds


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


def sqlite_app(path: str, synchronous: str) -> Contracts:
    """The library on SQLite with `PRAGMA synchronous` set on each of its connections.

    The library has no setting for it; its pool's connection factory is wrapped before the
    first connection is made (the tables are created after, on a wrapped connection)."""
    app = Contracts(
        env={
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": path,
            "CREATE_TABLE": "n",
        }
    )
    recorder: Any = app.recorder
    pool = recorder.datastore.pool
    create = pool._create_connection

    def with_synchronous() -> Any:
        connection = create()
        connection._sqlite_conn.execute(f"PRAGMA synchronous={synchronous}")
        return connection

    pool._create_connection = with_synchronous
    recorder.create_table()
    return app


def synchronous_of(app: Contracts) -> int:
    """The `PRAGMA synchronous` a writer connection of the library has (1 NORMAL, 2 FULL)."""
    recorder: Any = app.recorder
    with recorder.datastore.get_connection(commit=True) as connection:
        return int(connection._sqlite_conn.execute("PRAGMA synchronous").fetchone()[0])


class Theirs:
    def __init__(self, app: Contracts) -> None:
        self.app = app
        self.rounds = 0

    def _fresh(self, n: int) -> list[UUID]:
        self.rounds += 1
        aggregates = max(1, n // EVENTS_PER_AGGREGATE)
        return [self.app.create(f"R{self.rounds}-{k}") for k in range(aggregates)]

    async def append(self, n: int) -> float:
        ids = self._fresh(n)
        held: dict[UUID, Contract] = {i: self.app.repository.get(i) for i in ids}
        started = time.perf_counter()
        for k in range(n):
            contract = held[ids[k % len(ids)]]
            contract.amend("indexation", (DAY0 + timedelta(days=k)).isoformat())
            self.app.save(contract)
        return n / (time.perf_counter() - started)

    async def command(self, n: int) -> float:
        ids = self._fresh(n)
        started = time.perf_counter()
        for k in range(n):
            self.app.amend(ids[k % len(ids)], "indexation", (DAY0 + timedelta(days=k)).isoformat())
        return n / (time.perf_counter() - started)

    async def read(self) -> float:
        started = time.perf_counter()
        return self.app.read_all() / (time.perf_counter() - started)


class Ours:
    def __init__(self, client: NATS, tag: str) -> None:
        self.client = client
        self.tag = tag
        self.clock = SystemClock()
        self.store = EventStore(client, self.clock)
        self.context = BoundedContext(f"peer{tag}", f"PEER{tag.upper()}")
        self.rounds = 0

    async def append(self, n: int) -> float:
        self.rounds += 1
        await self.store.ensure_stream(self.context)
        aggregates = max(1, n // EVENTS_PER_AGGREGATE)
        heads = {
            k: AggregateHistory(self.context, "contract", f"R{self.rounds}-{k}", (), 0)
            for k in range(aggregates)
        }
        started = time.perf_counter()
        for k in range(n):
            head = heads[k % aggregates]
            new = NewEvent("ContractAmended", 1, {"summary": "indexation"}, self.clock.now())
            meta = CommandMetadata(f"{self.tag}-a-{self.rounds}-{k}", "bench", "c")
            stored = await self.store.append(head, [new], meta)
            heads[k % aggregates] = AggregateHistory(
                self.context, "contract", head.aggregate_id, (stored[-1],), stored[-1].seq
            )
        return n / (time.perf_counter() - started)

    async def command(self, n: int) -> float:
        self.rounds += 1
        aggregates = max(1, n // EVENTS_PER_AGGREGATE)
        started = time.perf_counter()
        for k in range(n):
            await send_command(
                self.client,
                BENCH,
                AmendContract(
                    command_id=f"peer-{self.tag}-{self.rounds}-{k}",
                    contract_id=f"E{self.tag}-{self.rounds}-{k % aggregates}",
                    summary="indexation",
                    amended_on=DAY0 + timedelta(days=k),
                ),
            )
        return n / (time.perf_counter() - started)

    async def read(self) -> float:
        started = time.perf_counter()
        count = 0
        async for _ in self.store.read_stream(self.context):
            count += 1
        return count / (time.perf_counter() - started)


Measure = Callable[[int], Awaitable[float]]


async def alternating(ours: Measure, theirs: Measure, n: int) -> tuple[list[float], list[float]]:
    """A warm-up each side, then `ROUNDS` rounds of n / ROUNDS events, alternating who leads."""
    await theirs(WARM_UP)
    await ours(WARM_UP)
    per_round = max(EVENTS_PER_AGGREGATE, n // ROUNDS)
    our_rates: list[float] = []
    their_rates: list[float] = []
    for r in range(ROUNDS):
        if r % 2 == 0:
            their_rates.append(await theirs(per_round))
            our_rates.append(await ours(per_round))
        else:
            our_rates.append(await ours(per_round))
            their_rates.append(await theirs(per_round))
    return our_rates, their_rates


def spread(rates: list[float]) -> float:
    return round(max(rates) / min(rates), 2)


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


DURABILITY = {
    "PostgreSQL": "theirs fsync=off, ours JetStream's default (fsync every two minutes): both "
    "survive a process crash, not an OS crash",
    "SQLite": "theirs synchronous=NORMAL (WAL), ours JetStream's default (fsync every two "
    "minutes): both survive a process crash, not an OS crash",
    "SQLite, fsync per commit": "theirs the library's default synchronous=FULL (WAL), ours a "
    "second JetStream server with sync_interval: always: both fsync every acknowledged write; "
    "no target",
}


@contextlib.asynccontextmanager
async def fsyncing_jetstream(tmp: str) -> AsyncIterator[tuple[NATS, NATS]]:
    """A second broker that fsyncs every write before its ack, and two connections to it."""
    store = Path(tmp) / "nats-fsync"
    store.mkdir()
    config = store / "server.conf"
    config.write_text(f'jetstream {{ store_dir: "{store}", sync_interval: always }}\n')
    server = NatsServer(store, config_file=config).start()
    try:
        async with connected(server.url) as client, connected(server.url) as service_nc:
            yield client, service_nc
    finally:
        server.stop()


async def served(service_nc: NATS) -> Any:
    clock = SystemClock()
    return await serve_in_process(
        service_nc, [command_service(COMMANDS, EventStore(service_nc, clock), clock)]
    )


async def pair(label: str, app: Contracts, client: NATS, tag: str, n: int) -> list[Figure]:
    theirs, ours = Theirs(app), Ours(client, tag)
    rates = {
        "append": await alternating(ours.append, theirs.append, n),
        "command": await alternating(ours.command, theirs.command, n),
    }
    read = (await ours.read(), await theirs.read())
    figures = []
    for op in ("append", "command", "read"):
        extra: dict[str, Any] = {}
        if op == "read":
            value, base = read
        else:
            our_rates, their_rates = rates[op]
            value, base = statistics.median(our_rates), statistics.median(their_rates)
            ratios = [o / t for o, t in zip(our_rates, their_rates, strict=True)]
            extra = {
                "rounds": ROUNDS,
                "events_per_round": max(EVENTS_PER_AGGREGATE, n // ROUNDS),
                "ours_per_round": [round(r, 1) for r in our_rates],
                "theirs_per_round": [round(r, 1) for r in their_rates],
                "ours_spread": spread(our_rates),
                "theirs_spread": spread(their_rates),
                "ratio_per_round": [round(r, 2) for r in ratios],
                "ratio_min_max": [round(min(ratios), 2), round(max(ratios), 2)],
            }
        target, met = "", None
        if op == "command" and label in ("PostgreSQL", "SQLite"):
            times = 2 if label == "PostgreSQL" else 1  # issue 18
            target = f">= {times}x eventsourcing on {label}"
            met = value >= times * base
        what = "one pass" if op == "read" else f"median of {ROUNDS} rounds"
        figures.append(
            Figure(
                "peer",
                f"{op}, {n:,} events, one at a time ({what}), vs eventsourcing/{label}",
                "events/s",
                round(value, 1),
                f"eventsourcing {label} recorder",
                round(base, 1),
                target=target,
                target_met=met,
                note=f"durability: {DURABILITY[label]}",
                extra=extra,
            )
        )
    return figures


async def run(ctx: BenchContext) -> list[Figure]:
    n = ctx.config.peer_events
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="bench-es-") as tmp:
        normal = sqlite_app(f"{tmp}/normal.db", "NORMAL")
        full = sqlite_app(f"{tmp}/full.db", "FULL")
        if synchronous_of(normal) != 1 or synchronous_of(full) != 2:
            raise RuntimeError("the library's SQLite synchronous setting did not take")
        server = await served(ctx.service_nc)
        try:
            figures += await pair(
                "PostgreSQL", Contracts(env=postgres_env(ctx)), ctx.client, "pg", n
            )
            figures += await pair("SQLite", normal, ctx.client, "sq", n)
        finally:
            await server.stop()
        async with fsyncing_jetstream(tmp) as (client, service_nc):
            server = await served(service_nc)
            try:
                figures += await pair("SQLite, fsync per commit", full, client, "fs", n)
            finally:
                await server.stop()
    return figures
