"""A read model slower than the others in a shared delivery (`eventstore.shared_delivery`, #18
fresh16) never sets their pace: held back while it prepares a batch, it is left out of the
shared transaction; the others' batches commit and their waits end; released, it applies
that batch and what came meanwhile alone, each event once, in order, and is level (in the
shared batches) again. Left out too long, it gives its place up and reads on its own."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS
from sqlalchemy import Connection, Dialect, Engine

from eventstore import shared_delivery as shared_module
from eventstore.clock import FixedClock
from eventstore.projection import BatchProjection, Failure, Prepared, ProjectionRunner
from eventstore.shared_delivery import SharedDelivery, SharedMember
from eventstore.sql import make_engine
from eventstore.store import EventStore, StoredEvent
from tests.integration.test_fresh15_shared_delivery import Seen, SeenB, started, stopped
from tests.integration.test_projection_runner import append
from tests.support.ledger import LEDGER
from tests.support.subscribers import ledger_store, wait_for

# Generous: the read models not held must reach the writes within it however busy the
# machine; with every member in one transaction they wait for the held one (60 s).
PATIENCE = 30.0


class Holdable(Seen, BatchProjection):
    """`Seen`, applied a batch at a time; while `held`, its next batch's prepare blocks
    (as a slow or stalled read model's folds would) until released."""

    name = "seen_holdable"

    def __init__(self) -> None:
        super().__init__()
        self.held = False
        self.holding = threading.Event()  # a batch is held
        self._released = threading.Event()

    def hold(self) -> None:
        self.held = True
        self._released.clear()

    def release(self) -> None:
        self.held = False
        self._released.set()

    def prepare(self, dialect: Dialect, events: list[StoredEvent]) -> Prepared | None:
        if self.held:
            self.holding.set()
            self._released.wait(60)  # a failing test cannot hang the suite
        return None  # `apply_batch` writes, in the transaction

    def apply_batch(self, conn: Connection, events: list[StoredEvent]) -> list[Failure]:
        for event in events:
            self.apply(conn, event)
        return []


@pytest.fixture
async def store(nats_client: NATS, fixed_clock: FixedClock) -> EventStore:
    return await ledger_store(nats_client, fixed_clock)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    made = make_engine(f"sqlite:///{tmp_path}/shared.db")
    yield made
    made.dispose()


@pytest.fixture
def holdable() -> Iterator[Holdable]:
    projection = Holdable()
    yield projection
    projection.release()  # never left blocking a thread


def member_of(runner: ProjectionRunner) -> SharedMember:
    member = runner._subscribers[0]
    assert isinstance(member, SharedMember)
    return member


async def level(runners: list[ProjectionRunner], last: int) -> SharedDelivery:
    for runner in runners:
        assert await runner.wait_until({LEDGER.stream: last}, timeout=120)
    shared = member_of(runners[0]).shared
    await wait_for(lambda: set(shared.members) == set(runners))
    await wait_for(lambda: all(member_of(r).backlog is None for r in runners))
    return shared


async def test_a_held_back_member_is_left_out_and_the_others_go_on(
    nats_client: NATS, store: EventStore, engine: Engine, holdable: Holdable
) -> None:
    projections = [Seen(), SeenB(), holdable]
    runners = await started(nats_client, engine, *projections)
    others, held = runners[:2], runners[2]
    try:
        last = await append(store, "a", [1], "first")
        shared = await level(runners, last)
        batches = shared.batches
        fell = member_of(held).fell_behind  # (0; a busy machine may have slowed one before)
        holdable.hold()
        for i in range(6):
            last = await append(store, f"l{i % 3}", [i, i + 1], f"c{i}")
        # The others' batches commit, and their waits end, while the held one holds.
        for runner in others:
            assert await runner.wait_until({LEDGER.stream: last}, timeout=PATIENCE)
        await wait_for(holdable.holding.is_set)  # its thread may come to it after the others
        assert held.position(LEDGER.stream) < last
        assert shared.batches > batches  # in shared transactions, without it
        assert member_of(held).fell_behind == fell + 1
        assert held in shared.members  # left out of the batches, not out of the delivery
        holdable.release()
        # It applies the batch it held and what came meanwhile alone, then is level again.
        await level(runners, last)
        last = await append(store, "z", [7, 8], "after")
        for runner in runners:
            assert await runner.wait_until({LEDGER.stream: last}, timeout=120)
        assert member_of(held).ejections == 0
    finally:
        holdable.release()
        await stopped(runners)
    for projection in projections:
        assert projection.seqs(engine) == list(range(1, last + 1))
    for runner in runners:
        assert runner.load_positions() == {LEDGER.stream: last}


async def test_a_member_left_out_too_long_reads_on_its_own_and_joins_again(
    nats_client: NATS,
    store: EventStore,
    engine: Engine,
    holdable: Holdable,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(shared_module, "BACKLOG", 4)
    projections = [Seen(), SeenB(), holdable]
    runners = await started(nats_client, engine, *projections)
    others, held = runners[:2], runners[2]
    try:
        last = await append(store, "a", [1], "first")
        shared = await level(runners, last)
        holdable.hold()
        for i in range(8):
            last = await append(store, f"l{i % 3}", [i], f"c{i}")
        for runner in others:
            assert await runner.wait_until({LEDGER.stream: last}, timeout=PATIENCE)
        # More than BACKLOG events behind: its place given up, nothing kept for it.
        await wait_for(lambda: held not in shared.members)
        assert held.position(LEDGER.stream) < last
        holdable.release()
        member = member_of(held)
        await wait_for(lambda: member.ejections == 1)
        # On its own consumer from its checkpoint; it joins once it applied a batch alone.
        assert await held.wait_until({LEDGER.stream: last}, timeout=120)
        last = await append(store, "z", [7], "after")
        await level(runners, last)
        last = await append(store, "y", [9], "again")
        for runner in runners:
            assert await runner.wait_until({LEDGER.stream: last}, timeout=120)
    finally:
        holdable.release()
        await stopped(runners)
    for projection in projections:
        assert projection.seqs(engine) == list(range(1, last + 1))
