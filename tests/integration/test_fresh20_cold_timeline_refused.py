"""A versioned read model's cold timeline never folds an event its runner refused (#18,
fresh20; review19's third path).

An aggregate's timeline not in memory (evicted, forgotten, after a restart) is folded from its
earlier events before its next event is applied (`ProjectionRunner._load_earlier`): from the
event log beside it when that holds the whole history, else from the event store, which
returns every message stored on the aggregate's subject -- a re-published copy (a duplicate)
and a copy of another aggregate's event (misplaced) included. What the runner refused must
be left out of that history as it was left out of the fold when it arrived. Before, only the
refusals *committed* as parks of the aggregate were left out, so three ways folded one in:

- the refused copy and the aggregate's next event in one batch (its park not yet written);
- the refused copy in the batch still committing while the next batch is prepared ahead
  (fresh19's pipeline: the park is in that batch's open transaction);
- a copy of another aggregate's event stored on this one's subject (parked under the
  aggregate its envelope names, so not found by this aggregate's name).

Real NATS JetStream, real SQLite; the event log is not wired (`local_history` None: the event
store answers). The read model keeps one timeline in memory, so each aggregate is cold
whenever another one was touched since.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client as NATS
from nats.js.api import ConsumerInfo
from sqlalchemy import Column, Connection, Dialect, Engine, Integer, MetaData, String, select

import eventstore.projection as projection_module
from contracts_schema import catalogue
from eventstore.bitemporal_sql import versioned_table
from eventstore.clock import FixedClock
from eventstore.projection import PREPARE_AHEAD_ENV, Failure, Prepared, ProjectionRunner, parked
from eventstore.shared_delivery import SharedMember
from eventstore.sql import make_engine
from eventstore.store import EventStore, StoredEvent
from eventstore.timeline import FOREVER
from eventstore.versioned import Reading, VersionedProjection
from tests.integration.test_projection_runner import append
from tests.support.ledger import LEDGER, EntryRecorded, Ledger
from tests.support.ledger import evolve as ledger_evolve
from tests.support.subscribers import ledger_store, wait_for


@pytest.fixture(autouse=True)
def _prepared_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pipeline is off by default (twentieth round): on here; the first two paths were
    there before it, so those tests run both ways (`ahead`)."""
    monkeypatch.setenv(PREPARE_AHEAD_ENV, "1")


BOTH_WAYS = pytest.mark.parametrize("ahead", [True, False], ids=["prepared-ahead", "in-its-turn"])


BOUND = 60.0  # waits for what must happen while something is held
HOLD = 3 * BOUND  # a failing test never holds a thread longer


class _Gate:
    def __init__(self) -> None:
        self.reached = threading.Event()
        self.release = threading.Event()

    def pass_(self) -> None:
        self.reached.set()
        self.release.wait(HOLD)


class _Held:
    """A prepared batch whose write waits at a gate first."""

    def __init__(self, prepared: Prepared, gate: _Gate) -> None:
        self._prepared = prepared
        self._gate = gate

    def write(self, conn: Connection) -> list[Failure]:
        self._gate.pass_()
        return self._prepared.write(conn)


def _image(state: tuple[str, Ledger]) -> dict[Any, Any]:
    ledger_id, ledger = state
    return {
        ("totals", (ledger_id,)): {
            "ledger_id": ledger_id,
            "total": ledger.total,
            "entries": ledger.entries,
        }
    }


class LedgerVersions(VersionedProjection):
    """Each ledger's total and count of entries, kept bitemporally; one timeline in memory.
    Hooks: the preparation or the write of a batch beginning with a given event held."""

    contexts = (LEDGER,)

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.cache_size = 1  # type: ignore[misc]  # every other aggregate's timeline is cold
        self.prepare_gates: dict[int, _Gate] = {}
        self.write_gates: dict[int, _Gate] = {}

    def define(self, metadata: MetaData) -> None:
        self.totals = versioned_table(
            f"{self.key}_totals",
            metadata,
            Column("ledger_id", String(40), nullable=False),
            Column("total", Integer, nullable=False),
            Column("entries", Integer, nullable=False),
            key=["ledger_id"],
        )

    def versioned(self) -> dict[str, Any]:
        return {"totals": self.totals}

    def readings(self) -> dict[str, Reading]:
        return {
            "ledger": Reading(
                initial=lambda ledger_id: (ledger_id, Ledger()),
                evolve=lambda state, event: (state[0], ledger_evolve(state[1], event)),
                image=_image,
                events=frozenset({"EntryRecorded"}),
            )
        }

    def prepare(self, dialect: Dialect, events: list[StoredEvent]) -> Any:
        first = events[0].seq if events else None
        gate = self.prepare_gates.pop(first, None) if first is not None else None
        if gate is not None:
            gate.pass_()
        prepared = super().prepare(dialect, events)
        held = self.write_gates.pop(first, None) if first is not None else None
        return _Held(prepared, held) if held is not None else prepared

    def current(self, engine: Engine) -> dict[str, tuple[int, int]]:
        """Each ledger's row as known now, valid now: (total, entries)."""
        t = self.totals
        with engine.connect() as conn:
            rows = conn.execute(
                select(t.c.ledger_id, t.c.total, t.c.entries).where(
                    t.c.known_to == FOREVER, t.c.valid_to == FOREVER
                )
            ).all()
        return {r.ledger_id: (r.total, r.entries) for r in rows}


def parked_seqs(engine: Engine, key: str) -> list[int]:
    with engine.connect() as conn:
        query = select(parked.c.seq).where(parked.c.projection == key).order_by(parked.c.seq)
        return list(conn.execute(query).scalars())


@pytest.fixture(autouse=True)
def ledger_events(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ledger's event read as a typed event (the catalogue has only the product's)."""
    monkeypatch.setitem(catalogue.EVENT_TYPES, "EntryRecorded", EntryRecorded)


@pytest.fixture
async def store(nats_client: NATS, fixed_clock: FixedClock) -> EventStore:
    return await ledger_store(nats_client, fixed_clock)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    made = make_engine(f"sqlite:///{tmp_path}/cold.db")
    yield made
    made.dispose()


async def copy_onto(nc: NATS, seq: int, ledger: str) -> int:
    """The very bytes stored at `seq`, published again on `ledger`'s subject: a duplicate
    (its own ledger's) or misplaced (another's)."""
    js = nc.jetstream()
    stored = await js.get_msg(LEDGER.stream, seq)
    assert stored.data is not None
    subject = LEDGER.event_subject("ledger", ledger, "EntryRecorded")
    ack = await js.publish(subject, stored.data, stream=LEDGER.stream)
    return int(ack.seq)


async def delivered_to(nc: NATS, durable: str, seq: int) -> None:
    """Until the consumer has pushed `seq` (it waits in the live pull's buffer)."""

    async def info() -> ConsumerInfo:
        found: ConsumerInfo = await nc.jetstream().consumer_info(LEDGER.stream, durable)
        return found

    deadline = asyncio.get_running_loop().time() + BOUND
    while (await info()).delivered.stream_seq < seq:
        assert asyncio.get_running_loop().time() < deadline, f"#{seq} never delivered"
        await asyncio.sleep(0.05)


@BOTH_WAYS
async def test_a_duplicate_refused_in_the_batch_of_the_aggregates_next_event(
    nats_client: NATS, store: EventStore, engine: Engine, ahead: bool
) -> None:
    """One batch (a catch-up from nothing): the copy refused, then the ledger's next event,
    its timeline cold -- its history from the event store holds the copy, not yet parked."""
    a1 = await append(store, "a", [5], "a1")
    await append(store, "b", [7], "b1")  # `a` out of memory
    copy = await copy_onto(nats_client, a1, "a")
    last = await append(store, "a", [11], "a2")
    model = LedgerVersions("cold_same_batch")
    runner = ProjectionRunner(nats_client, engine, model, batch=50)
    runner.prepares_ahead = ahead
    await runner.start()
    try:
        assert await runner.wait_until({LEDGER.stream: last}, timeout=120)
        assert runner.histories_loaded >= 1  # `a`'s history was folded from the store
    finally:
        await runner.stop()
    assert parked_seqs(engine, model.key) == [copy]
    assert model.current(engine) == {"a": (16, 2), "b": (7, 1)}


@BOTH_WAYS
async def test_a_copy_of_another_aggregates_event_on_this_ones_subject(
    nats_client: NATS, store: EventStore, engine: Engine, ahead: bool
) -> None:
    """A copy of ledger x's event stored on a's subject (misplaced) is parked, under x (the
    aggregate its envelope names), in a batch that commits; a's next event comes later, its
    timeline cold: the store's history of a holds the copy."""
    model = LedgerVersions("cold_misplaced")
    runner = ProjectionRunner(nats_client, engine, model, batch=50)
    runner.prepares_ahead = ahead
    await runner.start()
    try:
        await append(store, "a", [5], "a1")
        x1 = await append(store, "x", [1000], "x1")
        copy = await copy_onto(nats_client, x1, "a")
        await append(store, "b", [7], "b1")  # `a` out of memory
        assert await runner.wait_until({LEDGER.stream: copy + 1}, timeout=120)
        assert parked_seqs(engine, model.key) == [copy]
        last = await append(store, "a", [11], "a2")
        assert await runner.wait_until({LEDGER.stream: last}, timeout=120)
        assert runner.histories_loaded >= 1
    finally:
        await runner.stop()
    assert model.current(engine) == {"a": (16, 2), "x": (1000, 1), "b": (7, 1)}


async def test_a_duplicate_refused_in_the_batch_still_committing_when_the_next_is_prepared(
    nats_client: NATS, store: EventStore, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batch k = [the copy of a's first event, b's second] holds its write after the copy's
    park; a's next event (k + 1) is prepared ahead meanwhile, a's timeline cold: the store's
    history of a holds the copy, whose park k has not committed."""
    # Whole batches however long a held transaction took (not sized down to one event).
    monkeypatch.setattr(projection_module, "FAIR_TURN", 1e6)
    monkeypatch.setattr(projection_module, "LONE_TURN", 1e6)
    model = LedgerVersions("cold_ahead")
    runner = ProjectionRunner(nats_client, engine, model, batch=2)  # the pull holds two
    assert runner.prepares_ahead
    await runner.start()
    gates: list[_Gate] = []
    try:
        a1 = await append(store, "a", [5], "a1")
        b1 = await append(store, "b", [7], "b1")
        assert await runner.wait_until({LEDGER.stream: b1}, timeout=120)
        member = runner._subscribers[0]
        assert isinstance(member, SharedMember)
        shared = member.shared
        await wait_for(lambda: shared.members == [runner])
        await wait_for(lambda: all(m.backlog is None for m in shared._members))

        # j = [c1] held in its preparation while k's events are pushed.
        c1 = b1 + 1
        model.prepare_gates[c1] = preparing_j = _Gate()
        gates.append(preparing_j)
        assert await append(store, "c", [3], "c1") == c1
        await wait_for(preparing_j.reached.is_set, timeout=BOUND)
        copy = await copy_onto(nats_client, a1, "a")
        b2 = await append(store, "b", [2], "b2")
        await delivered_to(nats_client, shared._durable, b2)
        # k's preparation (ahead, while j commits, or in its turn: [b2], the copy refused)
        # held while a's next event is pushed; then k's write held after the copy's park.
        model.prepare_gates[b2] = preparing_k = _Gate()
        model.write_gates[b2] = writing_k = _Gate()
        gates += [preparing_k, writing_k]
        speculate = runner.speculate
        ahead_done = threading.Event()
        a2 = b2 + 1

        def noting(stream: str, events: list[StoredEvent], after: int) -> None:
            try:
                speculate(stream, events, after)
            finally:
                if events[0].seq == a2:
                    ahead_done.set()

        monkeypatch.setattr(runner, "speculate", noting)
        preparing_j.release.set()
        await wait_for(preparing_k.reached.is_set, timeout=BOUND)
        assert await append(store, "a", [11], "a2") == a2
        await delivered_to(nats_client, shared._durable, a2)
        preparing_k.release.set()
        await wait_for(writing_k.reached.is_set, timeout=BOUND)
        await wait_for(ahead_done.is_set, timeout=BOUND)  # k + 1 prepared ahead, k open
        used = runner.speculations_used
        writing_k.release.set()
        assert await runner.wait_until({LEDGER.stream: a2}, timeout=120)
        assert runner.speculations_used == used + 1  # k + 1 taken as prepared ahead
    finally:
        for gate in gates:
            gate.release.set()
        await runner.stop()
    assert parked_seqs(engine, model.key) == [copy]
    assert model.current(engine) == {"a": (16, 2), "b": (9, 2), "c": (3, 1)}
