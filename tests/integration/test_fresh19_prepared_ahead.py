"""The shared delivery's next batch prepared while the batch before it commits (#18, fresh19):
each member folds the events waiting in the live pull in its own thread while the shared
transaction of the batch before is under way, and the next batch takes that work. A failure
of the commit under way, or of the preparation ahead, loses and duplicates nothing: every
event applied once, in order, by a fold that counts them (its memory would count one twice,
or skip one, if work prepared on a transaction that did not commit were kept)."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS
from sqlalchemy import (
    Column,
    Connection,
    Dialect,
    Engine,
    Integer,
    MetaData,
    Table,
    func,
    select,
)
from sqlalchemy.exc import OperationalError

import eventstore.shared_delivery as shared_module
from eventstore.clock import FixedClock
from eventstore.projection import (
    PREPARE_AHEAD_ENV,
    BatchProjection,
    Failure,
    Prepared,
    ProjectionRunner,
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


BATCH = 50
BOUND = 60.0  # the test's waits for what must happen while something is held
HOLD = 3 * BOUND  # a failing test never hangs a thread longer (outlasts the waits)


class _Rows:
    def __init__(self, counting: Counting, rows: list[tuple[int, int]]) -> None:
        self._counting = counting
        self._rows = rows

    def write(self, conn: Connection) -> list[Failure]:
        self._counting.writing([seq for seq, _ in self._rows])
        if self._rows:
            table = self._counting.table
            conn.execute(table.insert(), [{"seq": s, "nth": n} for s, n in self._rows])
        return []


class Counting(BatchProjection):
    """Every event applied as a row with its running count, folded in memory (`prepare`;
    forgotten by `reset`, read again from the table). Hooks: a preparation or a write of a
    given event held until released, a write or a preparation of one failing once."""

    contexts = (LEDGER,)

    def __init__(
        self, name: str, engine: Engine, write: tuple[threading.Event, threading.Event]
    ) -> None:
        self.name = name
        self._engine = engine
        self.count: int | None = None
        # (seqs, before the held write was released: before its transaction could commit)
        self.prepared: list[tuple[list[int], bool]] = []
        self.hold_prepare_at = 0
        self.hold_write_at = 0
        self.fail_write_at = 0
        self.fail_prepare_at = 0
        self.preparing_held = threading.Event()
        self.release = threading.Event()  # a held preparation
        # A write held (and its release), shared by the read models of one transaction.
        self.write_held, self.release_write = write

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
        self.prepared.append((seqs, not self.release_write.is_set()))
        if self.hold_prepare_at in seqs:
            self.hold_prepare_at = 0
            self.preparing_held.set()
            self.release.wait(HOLD)
        if self.fail_prepare_at in seqs:
            self.fail_prepare_at = 0
            raise RuntimeError("injected: a fold that fails once")
        if self.count is None:
            with self._engine.connect() as conn:
                self.count = conn.execute(select(func.count()).select_from(self.table)).scalar_one()
        rows = []
        for seq in seqs:
            self.count += 1
            rows.append((seq, self.count))
        return _Rows(self, rows)

    def apply_batch(self, conn: Connection, events: list[StoredEvent]) -> list[Failure]:
        if self.count is None:  # the transaction's view, not another connection's
            self.count = conn.execute(select(func.count()).select_from(self.table)).scalar_one()
        prepared = self.prepare(conn.dialect, events)
        assert prepared is not None
        return prepared.write(conn)

    def writing(self, seqs: list[int]) -> None:
        if self.hold_write_at in seqs:
            self.hold_write_at = 0
            self.write_held.set()
            self.release_write.wait(HOLD)
        if self.fail_write_at in seqs:
            self.fail_write_at = 0
            raise OperationalError("INSERT", {}, Exception("injected: disk I/O error"))

    def rows(self) -> list[tuple[int, int]]:
        with self._engine.connect() as conn:
            query = select(self.table.c.seq, self.table.c.nth).order_by(self.table.c.id)
            return [(s, n) for s, n in conn.execute(query)]


@pytest.fixture
async def store(nats_client: NATS, fixed_clock: FixedClock) -> EventStore:
    return await ledger_store(nats_client, fixed_clock)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    made = make_engine(f"sqlite:///{tmp_path}/ahead.db")
    yield made
    made.dispose()


async def _started(nc: NATS, engine: Engine, *projections: Counting) -> list[ProjectionRunner]:
    runners = [ProjectionRunner(nc, engine, p, batch=BATCH) for p in projections]
    for runner in runners:
        await runner.start()
    return runners


async def _level(runners: list[ProjectionRunner], last: int) -> None:
    for runner in runners:
        assert await runner.wait_until({LEDGER.stream: last}, timeout=120)
    member = runners[0]._subscribers[0]
    assert isinstance(member, SharedMember)
    shared = member.shared
    await wait_for(lambda: set(shared.members) == set(runners))
    await wait_for(lambda: all(m.backlog is None for m in shared._members))


def _durable(runner: ProjectionRunner) -> str:
    member = runner._subscribers[0]
    assert isinstance(member, SharedMember)
    return member.shared._durable


async def _commit_under_way_with_more_waiting(
    nc: NATS, store: EventStore, runners: list[ProjectionRunner], projections: list[Counting]
) -> tuple[int, int]:
    """Batch k (seq `held`) prepared while three more events are stored and pushed; then its
    shared transaction's write is held. Returns (held, last)."""
    first = projections[0]
    held = await append(store, "a", [1], "k")
    first.hold_prepare_at = held + 1  # k: the next event's batch
    held = await append(store, "a", [2], "k2")
    await wait_for(first.preparing_held.is_set)
    projections[0].hold_write_at = held  # the first of the transaction's writes
    last = held
    for i in range(3):  # stored and pushed into the live pull while k is prepared
        last = await append(store, f"n{i}", [i], f"next{i}")
    durable = _durable(runners[0])
    info = await consumer_when(nc, durable, lambda i: (i.delivered.stream_seq or 0) >= last)
    assert info.delivered.stream_seq == last
    return held, last


def _assert_each_once(projections: list[Counting], last: int) -> None:
    for projection in projections:
        rows = projection.rows()
        assert [s for s, _ in rows] == list(range(1, last + 1))
        assert [n for _, n in rows] == list(range(1, last + 1))  # none counted twice


async def test_the_next_batch_is_prepared_while_the_one_before_commits(
    nats_client: NATS, store: EventStore, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shared_module, "STRAGGLER_WAIT", 60.0)  # one transaction for both
    write = (threading.Event(), threading.Event())
    projections = [Counting("ahead_a", engine, write), Counting("ahead_b", engine, write)]
    runners = await _started(nats_client, engine, *projections)
    try:
        await _level(runners, await append(store, "z", [0], "first"))
        held, last = await _commit_under_way_with_more_waiting(
            nats_client, store, runners, projections
        )
        projections[0].release.set()  # k prepared; its write holds
        await wait_for(projections[0].write_held.is_set)
        # While k's write holds, each member prepares the events after it.
        for projection in projections:
            await wait_for(
                lambda p=projection: any(
                    during and seqs[0] == held + 1 for seqs, during in p.prepared
                ),
                timeout=BOUND,
            )
        for projection in projections:
            projection.release_write.set()
        for runner in runners:
            assert await runner.wait_until({LEDGER.stream: last}, timeout=120)
        assert all(r.speculations_used >= 1 for r in runners)
        # Taken as prepared: not prepared again after the commit.
        for projection in projections:
            assert [seqs for seqs, _ in projection.prepared].count(
                list(range(held + 1, last + 1))
            ) == 1
    finally:
        for projection in projections:
            projection.release.set()
            projection.release_write.set()
        for runner in runners:
            await runner.stop()
    _assert_each_once(projections, last)


@pytest.mark.parametrize("failing", ["commit under way", "preparation ahead"])
async def test_a_failure_loses_and_duplicates_nothing(
    nats_client: NATS,
    store: EventStore,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    failing: str,
) -> None:
    monkeypatch.setattr(shared_module, "STRAGGLER_WAIT", 60.0)
    write = (threading.Event(), threading.Event())
    projections = [Counting("fail_a", engine, write), Counting("fail_b", engine, write)]
    runners = await _started(nats_client, engine, *projections)
    try:
        await _level(runners, await append(store, "z", [0], "first"))
        held, last = await _commit_under_way_with_more_waiting(
            nats_client, store, runners, projections
        )
        if failing == "commit under way":
            projections[1].fail_write_at = held  # k rolls back; each applies it alone
        else:
            projections[1].fail_prepare_at = held + 1  # its fold ahead fails once
        projections[0].release.set()
        await wait_for(projections[0].write_held.is_set)
        for projection in projections:
            await wait_for(
                lambda p=projection: any(seqs[0] == held + 1 for seqs, _ in p.prepared),
                timeout=BOUND,
            )
        for projection in projections:
            projection.release_write.set()
        for runner in runners:
            assert await runner.wait_until({LEDGER.stream: last}, timeout=120)
        last = await append(store, "after", [9], "after")  # and on from there
        for runner in runners:
            assert await runner.wait_until({LEDGER.stream: last}, timeout=120)
    finally:
        for projection in projections:
            projection.release.set()
            projection.release_write.set()
        for runner in runners:
            await runner.stop()
    _assert_each_once(projections, last)
    for runner in runners:
        assert runner.load_positions() == {LEDGER.stream: last}
    if failing == "commit under way":  # the work prepared ahead of it was not taken
        assert all(r.speculations_dropped >= 1 for r in runners)
