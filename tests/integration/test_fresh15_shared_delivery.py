"""One live delivery of a stream applied to every awaited read model of a SQLite database in
one transaction (`eventstore.shared_delivery`, #18 fresh15): each event once per read model,
in order; a read model that fails alone does not take the others down; one that starts
behind catches up alone and joins; an altered event parked by each."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import ClassVar

import pytest
from nats.aio.client import Client as NATS
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    Table,
    event,
    select,
)
from sqlalchemy.exc import OperationalError

import eventstore.shared_delivery as shared_delivery_module
from eventstore.clock import FixedClock
from eventstore.projection import Projection, ProjectionRunner, parked
from eventstore.shared_delivery import SharedDelivery, SharedMember, shared_delivery
from eventstore.sql import make_engine
from eventstore.store import EventStore, StoredEvent
from tests.integration.test_projection_runner import append
from tests.support.ledger import LEDGER
from tests.support.subscribers import ledger_store, wait_for

BATCH = 50


class Seen(Projection):
    """Every event it applied, one row each, in the order applied."""

    name = "seen_a"
    contexts = (LEDGER,)

    def define(self, metadata: MetaData) -> None:
        self.table = Table(
            f"{self.key}_rows",
            metadata,
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("seq", Integer, nullable=False),
        )

    def apply(self, conn: Connection, event: StoredEvent) -> None:
        conn.execute(self.table.insert().values(seq=event.seq))

    def seqs(self, engine: Engine) -> list[int]:
        with engine.connect() as conn:
            return list(conn.execute(select(self.table.c.seq).order_by(self.table.c.id)).scalars())


class SeenB(Seen):
    name = "seen_b"


class SeenC(Seen):
    name = "seen_c"


class Failing(Seen):
    """Fails every batch holding `fail_at` the way the database does (the error is not the
    event's: never parked, the batch fails) until `failing` is cleared."""

    name = "seen_failing"
    fail_at: ClassVar[int] = 0
    failing = True

    def apply(self, conn: Connection, event: StoredEvent) -> None:
        if self.failing and event.seq == self.fail_at:
            raise OperationalError("INSERT", {}, Exception("injected: disk I/O error"))
        super().apply(conn, event)


@pytest.fixture
async def store(nats_client: NATS, fixed_clock: FixedClock) -> EventStore:
    return await ledger_store(nats_client, fixed_clock)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    made = make_engine(f"sqlite:///{tmp_path}/shared.db")
    yield made
    made.dispose()


def shared_of(runner: ProjectionRunner) -> SharedDelivery:
    member = runner._subscribers[0]
    assert isinstance(member, SharedMember)
    return member.shared


async def started(nc: NATS, engine: Engine, *projections: Projection) -> list[ProjectionRunner]:
    runners = [ProjectionRunner(nc, engine, p, batch=BATCH) for p in projections]
    for runner in runners:
        await runner.start()
    return runners


async def stopped(runners: list[ProjectionRunner]) -> None:
    for runner in runners:
        await runner.stop()


async def reached(runners: list[ProjectionRunner], last: int) -> None:
    for runner in runners:
        assert await runner.wait_until({LEDGER.stream: last}, timeout=120)


async def test_one_delivery_applied_to_every_read_model_in_one_transaction(
    nats_client: NATS, store: EventStore, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three read models, one consumer, one commit per batch for all three: each event once
    per read model, in stream order, each checkpoint moved with it."""
    # About the one transaction, not stragglers: a member's thread slowed past the 50 ms
    # rule by a busy machine would be left out and commit alone (fresh16's rule).
    monkeypatch.setattr(shared_delivery_module, "STRAGGLER_WAIT", 60.0)
    seen = [Seen(), SeenB(), SeenC()]
    runners = await started(nats_client, engine, *seen)
    try:
        last = await append(store, "a", [1], "first")
        await reached(runners, last)
        shared = shared_of(runners[0])
        await wait_for(lambda: len(shared.members) == 3)  # each joined once level
        commits: list[int] = []
        event.listen(engine, "commit", lambda _conn: commits.append(1))
        before = shared.batches
        for i in range(12):
            last = await append(store, f"l{i % 3}", [i, i + 1, i + 2], f"c{i}")
        await reached(runners, last)
        batches = shared.batches - before
        assert batches >= 1
        # One transaction per batch for the three (without sharing: three per batch).
        assert len(commits) == batches
        assert shared.rolled_back == 0
        assert set(shared.members) == set(runners)
    finally:
        await stopped(runners)
    for projection in seen:
        assert projection.seqs(engine) == list(range(1, last + 1))
    for runner in runners:
        assert runner.load_positions() == {LEDGER.stream: last}


async def test_a_read_model_failing_alone_leaves_the_others_whole(
    nats_client: NATS, store: EventStore, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch one read model cannot apply rolls the shared transaction back (nothing of it
    kept by anyone), the others apply it alone; the failing one retries alone from its
    checkpoint, applies once it can, and joins again when level."""
    # A failing member left out by the 50 ms rule would fail alone, no shared rollback.
    monkeypatch.setattr(shared_delivery_module, "STRAGGLER_WAIT", 60.0)
    failing = Failing()
    seen = [Seen(), SeenB(), failing]
    runners = await started(nats_client, engine, *seen)
    try:
        last = await append(store, "a", [1], "first")
        await reached(runners, last)
        shared = shared_of(runners[0])
        await wait_for(lambda: len(shared.members) == 3)
        Failing.fail_at = last + 2
        for i in range(4):
            last = await append(store, f"l{i}", [i, i + 1], f"c{i}")
        await reached(runners[:2], last)  # the others go on
        member = runners[2]._subscribers[0]
        assert isinstance(member, SharedMember)
        await wait_for(lambda: member.ejections == 1)
        assert shared.rolled_back >= 1
        assert runners[2] not in shared.members
        assert runners[2].position(LEDGER.stream) < Failing.fail_at  # not past its failure
        failing.failing = False  # the fault cleared: it applies alone, then joins
        await reached(runners[2:], last)
        await wait_for(lambda: runners[2] in shared.members)
        last = await append(store, "z", [7, 8], "after")
        await reached(runners, last)
    finally:
        await stopped(runners)
    for projection in seen:
        assert projection.seqs(engine) == list(range(1, last + 1))
    with engine.connect() as conn:
        assert conn.execute(select(parked.c.seq)).all() == []  # failed, never parked


async def test_a_read_model_starting_behind_catches_up_alone_and_joins(
    nats_client: NATS, store: EventStore, engine: Engine
) -> None:
    """A new read model 1,500 events behind reads them in bulk alone (the shared delivery's
    members are not held back), then joins; every event once, in order, in each."""
    first = [Seen(), SeenB()]
    runners = await started(nats_client, engine, *first)
    late: list[ProjectionRunner] = []
    try:
        last = 0
        for i in range(30):
            last = await append(store, f"l{i % 5}", list(range(50)), f"bulk{i}")
        await reached(runners, last)
        shared = shared_of(runners[0])
        assert set(shared.members) == set(runners)
        newcomer = SeenC()
        late = await started(nats_client, engine, newcomer)
        await reached(late, last)
        assert late[0].caught_up_in_bulk >= 1_000  # alone, in bulk
        await wait_for(lambda: late[0] in shared.members)
        for i in range(5):
            last = await append(store, f"m{i}", [i], f"live{i}")
        await reached([*runners, *late], last)
    finally:
        await stopped([*runners, *late])
    for projection in [*first, newcomer]:
        assert projection.seqs(engine) == list(range(1, last + 1))


def altered(raw: bytes) -> bytes:
    fields = json.loads(raw)
    fields["payload"]["amount"] = 1_000_000
    fields["event_id"] = "00000000-0000-4000-8000-000000000000"
    return json.dumps(fields).encode()


async def test_an_altered_event_is_parked_by_each_read_model(
    nats_client: NATS, store: EventStore, engine: Engine
) -> None:
    """Judged once for all, an altered copy of a stored event is parked by every member
    with why; the events around it applied once, in order."""
    seen = [Seen(), SeenB()]
    runners = await started(nats_client, engine, *seen)
    try:
        last = await append(store, "a", [1, 2], "first")
        await reached(runners, last)
        shared = shared_of(runners[0])
        await wait_for(lambda: len(shared.members) == 2)
        original = await nats_client.jetstream().get_msg(LEDGER.stream, last)
        assert original.subject is not None
        assert original.data is not None
        forged = await nats_client.jetstream().publish(original.subject, altered(original.data))
        last = await append(store, "b", [4], "after")
        await reached(runners, last)
        assert set(shared.members) == set(runners)
    finally:
        await stopped(runners)
    expected = [s for s in range(1, last + 1) if s != forged.seq]
    for projection in seen:
        assert projection.seqs(engine) == expected
    with engine.connect() as conn:
        rows = conn.execute(select(parked.c.projection, parked.c.seq)).all()
    assert sorted(rows) == sorted((p.key, forged.seq) for p in seen)


async def test_the_shared_delivery_is_per_database(nats_client: NATS, tmp_path: Path) -> None:
    """Read models of two databases never share a transaction."""
    one = make_engine(f"sqlite:///{tmp_path}/one.db")
    two = make_engine(f"sqlite:///{tmp_path}/two.db")
    try:
        a = shared_delivery(nats_client, one, LEDGER, "one", BATCH)
        assert shared_delivery(nats_client, one, LEDGER, "one", BATCH) is a
        assert shared_delivery(nats_client, two, LEDGER, "two", BATCH) is not a
    finally:
        one.dispose()
        two.dispose()
