"""Read models fed live, with the next batch prepared while the one before commits (#18,
fresh19's pipeline, fresh20), hold exactly the rows of a clean rebuild.

A history made from a fixed seed is stored while the runners follow it: many small batches
(bursts of appends land in the live pull while a batch commits, so they are prepared ahead),
events backdated (a versioned timeline refolded), exact copies re-published (refused as
duplicates), copies stored on another ledger's subject (refused as misplaced), entries the
fold refuses (parked), and a restart of every runner half-way (timelines cold after it, and
one timeline kept in memory at a time, so most aggregates are folded from their history).
Then a rebuild from nothing into another database, the pipeline off, one large batch at a
time: every table's rows, and every parked event, must be equal.

Real NATS JetStream, real SQLite. Read models: two versioned ones (one and three timelines in
memory), one that numbers every event it applies from its memory (a count, read again from
its table when forgotten: a fold built on stale memory numbers two rows alike; the database
refuses some of its rows, which parks their events and forgets its memory), and one that
applies per event (no preparation: it folds in the transaction).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client as NATS
from sqlalchemy import (
    Column,
    Connection,
    Dialect,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    func,
    select,
)

from contracts_schema import catalogue
from contracts_schema.base import DomainEvent
from eventstore.bitemporal_sql import versioned_table
from eventstore.clock import FixedClock
from eventstore.projection import (
    BatchProjection,
    Failure,
    Prepared,
    Projection,
    ProjectionRunner,
    parked,
)
from eventstore.records import AggregateHistory, CommandMetadata, NewEvent
from eventstore.sql import make_engine
from eventstore.store import EventStore, StoredEvent
from eventstore.timeline import FOREVER
from eventstore.versioned import Reading, VersionedProjection
from tests.support.ledger import LEDGER, EntryRecorded, Ledger
from tests.support.subscribers import ledger_store

SEEDS = [11, 29, 47]
LEDGERS = ["a", "b", "c", "d", "e"]
STEPS = 70
UNLUCKY = 13  # an entry the fold refuses: parked by the versioned read models
REFUSED = 42  # an entry whose row the database refuses: parked by the numbering read model


def evolve(state: tuple[str, Ledger], event: DomainEvent) -> tuple[str, Ledger]:
    assert isinstance(event, EntryRecorded)
    if event.amount == UNLUCKY:
        raise ValueError(f"an entry of {UNLUCKY} is refused")
    return state[0], Ledger(state[1].total + event.amount, state[1].entries + 1)


def image(state: tuple[str, Ledger]) -> dict[Any, Any]:
    ledger_id, ledger = state
    if not ledger.entries:
        return {}
    return {("totals", (ledger_id,)): {"ledger_id": ledger_id, "total": ledger.total}}


class Totals(VersionedProjection):
    contexts = (LEDGER,)

    def __init__(self, name: str, timelines: int) -> None:
        super().__init__()
        self.name = name
        self.cache_size = timelines  # type: ignore[misc]

    def define(self, metadata: MetaData) -> None:
        self.totals = versioned_table(
            f"{self.key}_totals",
            metadata,
            Column("ledger_id", String(40), nullable=False),
            Column("total", Integer, nullable=False),
            key=["ledger_id"],
        )

    def versioned(self) -> dict[str, Table]:
        return {"totals": self.totals}

    def readings(self) -> dict[str, Reading]:
        return {
            "ledger": Reading(
                initial=lambda ledger_id: (ledger_id, Ledger()),
                evolve=evolve,
                image=image,
                events=frozenset({"EntryRecorded"}),
            )
        }


class _Numbered:
    def __init__(self, table: Table, rows: list[dict[str, int]]) -> None:
        self._table = table
        self._rows = rows

    def write(self, conn: Connection) -> list[Failure]:
        if self._rows:
            conn.execute(self._table.insert(), self._rows)
        return []


class Numbering(BatchProjection):
    """Each applied event a row numbered by the count so far (its memory; `reset` forgets it,
    the table's count is read again)."""

    contexts = (LEDGER,)
    name = "numbering"

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.count: int | None = None

    def define(self, metadata: MetaData) -> None:
        self.table = Table(
            f"{self.key}_rows",
            metadata,
            Column("seq", Integer, primary_key=True),
            Column("nth", Integer, nullable=False),
        )

    def reset(self) -> None:
        self.count = None

    def _rows(self, events: list[StoredEvent]) -> list[dict[str, int]]:
        assert self.count is not None
        rows = []
        for event in events:
            self.count += 1
            rows.append({"seq": event.seq, "nth": self.count})
            if event.envelope.payload["amount"] == REFUSED:  # its key twice: a constraint
                rows.append({"seq": event.seq, "nth": self.count})
        return rows

    def prepare(self, dialect: Dialect, events: list[StoredEvent]) -> Prepared | None:
        if self.count is None:
            with self._engine.connect() as conn:
                self.count = conn.execute(select(func.count()).select_from(self.table)).scalar_one()
        return _Numbered(self.table, self._rows(events))

    def apply_batch(self, conn: Connection, events: list[StoredEvent]) -> list[Failure]:
        if self.count is None:  # the transaction's view
            self.count = conn.execute(select(func.count()).select_from(self.table)).scalar_one()
        return _Numbered(self.table, self._rows(events)).write(conn)


class Entries(Projection):
    """Each applied event's ledger and amount, one event at a time."""

    contexts = (LEDGER,)
    name = "entries"

    def define(self, metadata: MetaData) -> None:
        self.table = Table(
            f"{self.key}_rows",
            metadata,
            Column("seq", Integer, primary_key=True),
            Column("ledger_id", String(40), nullable=False),
            Column("amount", Integer, nullable=False),
        )

    def apply(self, conn: Connection, event: StoredEvent) -> None:
        e = event.envelope
        conn.execute(
            self.table.insert(),
            {"seq": event.seq, "ledger_id": e.aggregate_id, "amount": e.payload["amount"]},
        )


def read_models(engine: Engine) -> list[Projection]:
    return [Totals("totals_one", 1), Totals("totals_three", 3), Numbering(engine), Entries()]


def everything(engine: Engine, models: list[Projection]) -> dict[str, Any]:
    """Every row of every read model's tables, and every park, by read model (ordered)."""
    found: dict[str, Any] = {}
    with engine.connect() as conn:
        for model in models:
            metadata = MetaData()
            model.define(metadata)
            for table in metadata.sorted_tables:
                rows = conn.execute(select(table)).all()
                found[table.name] = sorted(tuple(r) for r in rows)
            query = select(parked.c.seq, parked.c.error).where(parked.c.projection == model.key)
            found[f"parked {model.key}"] = sorted(
                (seq, error.split(":")[0]) for seq, error in conn.execute(query)
            )
    return found


@pytest.fixture(autouse=True)
def ledger_events(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ledger's event read as a typed event (the catalogue has only the product's)."""
    monkeypatch.setitem(catalogue.EVENT_TYPES, "EntryRecorded", EntryRecorded)


@pytest.fixture
async def store(nats_client: NATS, fixed_clock: FixedClock) -> EventStore:
    return await ledger_store(nats_client, fixed_clock)


@pytest.fixture
async def engines(tmp_path: Path) -> AsyncIterator[tuple[Engine, Engine]]:
    live = make_engine(f"sqlite:///{tmp_path}/live.db")
    rebuilt = make_engine(f"sqlite:///{tmp_path}/rebuilt.db")
    yield live, rebuilt
    live.dispose()
    rebuilt.dispose()


def own(history: AggregateHistory) -> AggregateHistory:
    """The ledger's history without the copies stored on its subject (the command side
    refuses to decide on such a history; the test's writer goes on after them, as an
    operator's repair would let it)."""
    kept: list[StoredEvent] = []
    for event in history.events:
        e = event.envelope
        mine = (e.aggregate_type, e.aggregate_id) == (history.aggregate_type, history.aggregate_id)
        if mine and e.aggregate_version == len(kept) + 1:
            kept.append(event)
    return dataclasses.replace(history, events=tuple(kept))


class History:
    """Appends and copies chosen by a seeded generator (`step`)."""

    def __init__(self, nc: NATS, store: EventStore, clock: FixedClock, seed: int) -> None:
        self._nc = nc
        self._store = store
        self._clock = clock
        self._random = random.Random(seed)
        self._stored: list[int] = []  # the appended events' sequences
        # Those since the runners last started: a duplicate is judged by what a runner saw
        # (`eventstore.trust.Duplicates`, in memory; a restart forgets, as documented).
        self._since_start: list[int] = []
        self._commands = 0
        self.last = 0

    async def _append(self, ledger: str) -> None:
        r = self._random
        amounts = [
            r.choice([UNLUCKY, REFUSED]) if r.random() < 0.12 else r.randint(1, 50)
            for _ in range(r.randint(1, 3))
        ]
        day = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=r.randint(0, 30))  # backdated
        self._clock.advance(timedelta(seconds=1))
        self._commands += 1
        command = f"c{self._commands}"
        history = own(await self._store.load(LEDGER, "ledger", ledger))
        events = [NewEvent("EntryRecorded", 1, {"amount": a}, day) for a in amounts]
        stored = await self._store.append(history, events, CommandMetadata(command, "t", command))
        self._stored += [e.seq for e in stored]
        self._since_start += [e.seq for e in stored]
        self.last = max(self.last, stored[-1].seq)

    async def _copy(self, onto: str | None) -> None:
        """A stored event's bytes again: on its own subject (a duplicate) or onto another
        ledger's (misplaced)."""
        js = self._nc.jetstream()
        message = await js.get_msg(LEDGER.stream, self._random.choice(self._since_start))
        assert message.subject is not None
        assert message.data is not None
        subject = message.subject
        if onto is not None:
            subject = LEDGER.event_subject("ledger", onto, "EntryRecorded")
        ack = await js.publish(subject, message.data, stream=LEDGER.stream)
        self.last = max(self.last, int(ack.seq))

    def restarted(self) -> None:
        self._since_start = []

    async def step(self) -> None:
        r = self._random
        roll = r.random()
        if roll < 0.6 or not self._since_start:
            # A burst over several ledgers, one at a time (an aggregate's appends in order).
            for ledger in r.sample(LEDGERS, r.randint(1, 4)):
                await self._append(ledger)
        elif roll < 0.8:
            await self._copy(None)
        else:
            await self._copy(r.choice(LEDGERS))
        if r.random() < 0.3:
            await asyncio.sleep(r.random() * 0.02)  # a gap: the next batch starts anew


async def follow(
    nc: NATS, engine: Engine, history: History, steps: int, *, ahead: bool
) -> list[ProjectionRunner]:
    """Runners started over `engine`, the history's next `steps` stored while they follow,
    until they have applied all of it; stopped. The runners are returned (their counters)."""
    runners = [ProjectionRunner(nc, engine, m, batch=4) for m in read_models(engine)]
    history.restarted()
    for runner in runners:
        runner.prepares_ahead = ahead
        await runner.start()
    try:
        for _ in range(steps):
            await history.step()
        for runner in runners:
            assert await runner.wait_until({LEDGER.stream: history.last}, timeout=180)
    finally:
        for runner in runners:
            await runner.stop()
    return runners


@pytest.mark.parametrize("seed", SEEDS)
async def test_read_models_fed_live_with_the_pipeline_equal_a_clean_rebuild(
    nats_client: NATS,
    store: EventStore,
    fixed_clock: FixedClock,
    engines: tuple[Engine, Engine],
    seed: int,
) -> None:
    live, rebuilt = engines
    history = History(nats_client, store, fixed_clock, seed)
    first = await follow(nats_client, live, history, STEPS // 2, ahead=True)
    second = await follow(nats_client, live, history, STEPS - STEPS // 2, ahead=True)  # restarted
    used = sum(r.speculations_used for r in first + second)
    assert used > 0  # batches were taken as prepared ahead: the pipeline was exercised

    runners = [ProjectionRunner(nats_client, rebuilt, m, batch=500) for m in read_models(rebuilt)]
    for runner in runners:
        runner.prepares_ahead = False
        await runner.start()
    try:
        for runner in runners:
            assert await runner.wait_until({LEDGER.stream: history.last}, timeout=180)
    finally:
        for runner in runners:
            await runner.stop()
    assert sum(r.speculations_used + r.speculations_dropped for r in runners) == 0

    models = read_models(live)
    expected = everything(rebuilt, models)
    found = everything(live, models)
    differing = {
        key: (sorted(set(found[key]) - set(rows)), sorted(set(rows) - set(found[key])))
        for key, rows in expected.items()
        if found[key] != rows
    }
    assert differing == {}  # per table: (only live, only rebuilt)
    # The history holds what it is meant to: refused copies, refused entries, backdated rows.
    refusals = {why for seq, why in expected["parked totals_one_v1"]}
    assert {"duplicate", "misplaced"} <= refusals
    assert any(why == "ValueError" for _, why in expected["parked totals_one_v1"])
    assert any(why == "IntegrityError" for _, why in expected["parked numbering_v1"])
    assert any(row[3] != FOREVER for row in expected["totals_one_v1_totals"])  # valid_to ends
