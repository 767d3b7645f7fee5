"""Work prepared ahead (#18, fresh19) must build on the memory the batch under way left,
never on memory forgotten in that batch's transaction (review19).

A shared transaction whose prepared write the database refuses for one event redoes the
batch event by event (`ProjectionRunner._apply_batch_projection`) and parks that event; each
event it parks forgets the read model's memory. A read model's forgotten memory is read again
from its tables -- outside the transaction, which has not committed yet. If the next batch is
prepared ahead then, it is built on the tables as they were before the batch under way: the
batch's rows are missing from it, and once the transaction commits that work would be taken
as it stands. Here a fold that numbers every row it writes (its memory: the count so far)
would number two rows alike.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS
from sqlalchemy import Column, Connection, Dialect, Engine, Integer, MetaData, Table, func, select
from sqlalchemy.exc import IntegrityError

import eventstore.projection as projection_module
import eventstore.shared_delivery as shared_module
from eventstore.clock import FixedClock
from eventstore.projection import (
    PREPARE_AHEAD_ENV,
    BatchProjection,
    Failure,
    Prepared,
    ProjectionRunner,
    parked,
)
from eventstore.shared_delivery import SharedMember
from eventstore.sql import make_engine
from eventstore.store import EventStore, StoredEvent
from tests.integration.test_live_pull import consumer_when
from tests.integration.test_projection_runner import append
from tests.support.ledger import LEDGER
from tests.support.subscribers import ledger_store, wait_for


@pytest.fixture(autouse=True)
def _prepared_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pipeline is off by default (twentieth round): these tests are about it, on."""
    monkeypatch.setenv(PREPARE_AHEAD_ENV, "1")


BOUND = 60.0  # the test's waits for what must happen while something is held
HOLD = 3 * BOUND  # a failing test never holds a thread longer (outlasts the waits)


class _Rows:
    def __init__(self, numbering: Numbering, rows: list[tuple[int, int]]) -> None:
        self._numbering = numbering
        self._rows = rows

    def write(self, conn: Connection) -> list[Failure]:
        self._numbering.writing([seq for seq, _ in self._rows])
        if self._rows:
            table = self._numbering.table
            conn.execute(table.insert(), [{"seq": s, "nth": n} for s, n in self._rows])
        return []


class _Gate:
    def __init__(self) -> None:
        self.reached = threading.Event()
        self.release = threading.Event()


class Numbering(BatchProjection):
    """Each applied event a row numbered by the count so far, kept in memory (`prepare`;
    forgotten by `reset`, counted again from the table). Hooks: a write or a preparation of
    a given event held at a gate; a given event's rows refused by the database, always."""

    contexts = (LEDGER,)

    def __init__(self, name: str, engine: Engine) -> None:
        self.name = name
        self._engine = engine
        self.count: int | None = None
        self.refuse: set[int] = set()
        self.write_gates: dict[int, _Gate] = {}
        self.prepare_gates: dict[int, _Gate] = {}

    def define(self, metadata: MetaData) -> None:
        self.table = Table(
            f"{self.key}_rows",
            metadata,
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("seq", Integer, nullable=False),
            Column("nth", Integer, nullable=False),
        )

    def reset(self) -> None:
        self.count = None

    def prepare(self, dialect: Dialect, events: list[StoredEvent]) -> Prepared | None:
        seqs = [e.seq for e in events]
        gate = self.prepare_gates.pop(seqs[0], None) if seqs else None
        if gate is not None:
            gate.reached.set()
            gate.release.wait(HOLD)
        if self.count is None:
            with self._engine.connect() as conn:
                self.count = conn.execute(select(func.count()).select_from(self.table)).scalar_one()
        rows = []
        for seq in seqs:
            self.count += 1
            rows.append((seq, self.count))
        return _Rows(self, rows)

    def apply_batch(self, conn: Connection, events: list[StoredEvent]) -> list[Failure]:
        if self.count is None:  # the transaction's view
            self.count = conn.execute(select(func.count()).select_from(self.table)).scalar_one()
        prepared = self.prepare(conn.dialect, events)
        assert prepared is not None
        return prepared.write(conn)

    def writing(self, seqs: list[int]) -> None:
        for seq in seqs:
            gate = self.write_gates.pop(seq, None)
            if gate is not None:
                gate.reached.set()
                gate.release.wait(HOLD)
        refused = self.refuse.intersection(seqs)
        if refused:  # a constraint: the event is parked, the batch goes on without it
            raise IntegrityError("INSERT", {}, Exception(f"injected: refused #{min(refused)}"))

    def rows(self) -> list[tuple[int, int]]:
        with self._engine.connect() as conn:
            query = select(self.table.c.seq, self.table.c.nth).order_by(self.table.c.id)
            return [(s, n) for s, n in conn.execute(query)]


@pytest.fixture
async def store(nats_client: NATS, fixed_clock: FixedClock) -> EventStore:
    return await ledger_store(nats_client, fixed_clock)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    made = make_engine(f"sqlite:///{tmp_path}/parked_ahead.db")
    yield made
    made.dispose()


async def test_work_prepared_ahead_never_builds_on_memory_forgotten_by_a_park(
    nats_client: NATS, store: EventStore, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shared_module, "STRAGGLER_WAIT", 60.0)  # one transaction for both
    # Whole batches however long a held transaction took (not sized down to one event).
    monkeypatch.setattr(projection_module, "FAIR_TURN", 1e6)
    monkeypatch.setattr(projection_module, "LONE_TURN", 1e6)
    first, second = Numbering("park_a", engine), Numbering("park_b", engine)
    # Batches of two: the live pull holds at most the next two events.
    runners = [ProjectionRunner(nats_client, engine, p, batch=2) for p in (first, second)]
    for runner in runners:
        await runner.start()
    gates: list[_Gate] = []
    try:
        one = await append(store, "z", [0], "first")
        for runner in runners:
            assert await runner.wait_until({LEDGER.stream: one}, timeout=120)
        member = runners[0]._subscribers[0]
        assert isinstance(member, SharedMember)
        shared = member.shared
        await wait_for(lambda: set(shared.members) == set(runners))
        await wait_for(lambda: all(m.backlog is None for m in shared._members))

        # Batch [2]'s preparation held while batch k = [3, 4] is stored and pushed.
        two = one + 1
        first.prepare_gates[two] = preparing_two = _Gate()
        gates.append(preparing_two)
        assert await append(store, "a", [1], "two") == two
        await wait_for(preparing_two.reached.is_set, timeout=BOUND)
        three = await append(store, "b", [1], "three")
        four = await append(store, "c", [1], "four")
        info = await consumer_when(
            nats_client, shared._durable, lambda i: (i.delivered.stream_seq or 0) >= four
        )
        assert info.delivered.stream_seq == four

        # k: the first read model's last event refused by the database (parked, its memory
        # forgotten in the transaction); the second's write of k held after the first's.
        first.refuse.add(four)
        first.prepare_gates[three] = preparing = _Gate()  # ahead or in its turn
        second.write_gates[three] = held_k = _Gate()
        gates += [preparing, held_k]
        # The first read model's work ahead of k + 1 starts once its part of k's transaction
        # is done (as its thread may: it runs beside that transaction).
        speculate = runners[0].speculate
        ahead_done = threading.Event()

        def after_its_part(stream: str, events: list[StoredEvent], after: int) -> None:
            if events[0].seq <= four:
                speculate(stream, events, after)
                return
            held_k.reached.wait(HOLD)
            try:
                speculate(stream, events, after)
            finally:
                ahead_done.set()

        monkeypatch.setattr(runners[0], "speculate", after_its_part)
        preparing_two.release.set()
        await wait_for(preparing.reached.is_set, timeout=BOUND)
        five = await append(store, "d", [1], "five")  # k + 1, pushed while k is prepared
        six = await append(store, "e", [1], "six")
        info = await consumer_when(
            nats_client, shared._durable, lambda i: (i.delivered.stream_seq or 0) >= six
        )
        assert info.delivered.stream_seq == six
        preparing.release.set()
        await wait_for(held_k.reached.is_set, timeout=BOUND)
        await wait_for(ahead_done.is_set, timeout=BOUND)  # prepared ahead (or declined)
        held_k.release.set()
        for runner in runners:
            assert await runner.wait_until({LEDGER.stream: six}, timeout=120)
        assert shared.speculated >= 1  # k + 1 was offered to prepare ahead
    finally:
        for gate in gates:
            gate.release.set()
        for runner in runners:
            await runner.stop()
    with engine.connect() as conn:
        parked_seqs = list(
            conn.execute(select(parked.c.seq).where(parked.c.projection == first.key)).scalars()
        )
    assert parked_seqs == [four]
    # Each row numbered once, in order: k's rows counted before k + 1's.
    assert first.rows() == [(one, 1), (two, 2), (three, 3), (five, 4), (six, 5)]
    assert second.rows() == [(s, n) for n, s in enumerate(range(one, six + 1), start=1)]
