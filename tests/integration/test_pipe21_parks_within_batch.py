"""An event parked for its fold step or by the database takes no effect in its aggregate's later
rows, whatever the batches (#12/#18, pipe21; review20f's pre-existing path).

A versioned read model's timeline not in memory is folded from the aggregate's earlier events
(`ProjectionRunner._load_earlier`), read on a connection of its own: it leaves out what was
parked. Within ONE batch the batch's own parks are not committed yet, so that read did not see
them. fresh20 closed this for refusals (duplicates, misplaced copies), not for:

- the database refusing an event's rows (here a CHECK constraint): the batch is redone event by
  event, the event parked and the memory forgotten -- the aggregate's next event in the same
  batch is then cold, and its history held the parked event;
- the fold step failing (here the aggregate's history could not be read once): the event is
  parked, and the aggregate's next event in the same batch, cold, read its history again.

Applied one event a batch, each park is committed before the next event is folded, and the
parked event is left out; rebuilt in one large batch it was folded into the later rows. So the
batch boundaries decided the rows: a rebuild could differ from live. Here the same events are
applied by four runners -- one event a batch, bursts of up to four, a rebuild in batches of 500
and of 37 -- and every row and park must be the same, and right.

Real NATS JetStream (started by the test), real SQLite (each runner its own file: its own
shared delivery) and PostgreSQL; the pipeline (`GT_PROJECTION_PREPARE_AHEAD`) off and on.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client as NATS
from sqlalchemy import (
    CheckConstraint,
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    select,
)

import eventstore.projection as projection_module
from contracts_schema import catalogue
from contracts_schema.subjects import BoundedContext
from eventstore.bitemporal_sql import versioned_table
from eventstore.clock import FixedClock
from eventstore.projection import ProjectionRunner, parked
from eventstore.sql import make_engine
from eventstore.store import EventStore
from eventstore.timeline import FOREVER
from eventstore.versioned import Reading, VersionedProjection
from tests.integration.test_projection_runner import append
from tests.support.ledger import LEDGER, EntryRecorded, Ledger
from tests.support.ledger import evolve as ledger_evolve
from tests.support.subscribers import ledger_store

REFUSED = 42  # a ledger whose last entry is 42: its row is refused by the database
# (ledger, version) whose earlier events cannot be read: the fold step parks that event.
UNREADABLE = {("a", 2)}

# Appended a group at a time (the runners wait after each group, not between its events).
GROUPS: list[list[tuple[str, int]]] = [
    [("a", 5), ("b", 7)],
    [("a", 2), ("a", 11)],  # a2: its history unreadable (a cold: b was folded last)
    [("c", 3), ("b", REFUSED), ("b", 4)],
    [("a", REFUSED), ("a", 6), ("c", 9)],
    [("b", 1), ("c", REFUSED), ("c", 8), ("a", 3)],
]
# Right: the parked entries took effect nowhere. (total, entries, last amount)
EXPECTED = {"a": (5 + 11 + 6 + 3, 4, 3), "b": (7 + 4 + 1, 3, 1), "c": (3 + 9 + 8, 3, 8)}


def _image(state: tuple[str, Ledger, int]) -> dict[Any, Any]:
    ledger_id, ledger, last = state
    row = {"ledger_id": ledger_id, "total": ledger.total, "entries": ledger.entries, "last": last}
    return {("totals", (ledger_id,)): row}


def _evolve(state: tuple[str, Ledger, int], event: Any) -> tuple[str, Ledger, int]:
    return state[0], ledger_evolve(state[1], event), event.amount


class Marks(VersionedProjection):
    """Each ledger's total, count and last amount, kept bitemporally; one timeline in memory
    (every other aggregate is cold). The database refuses a version whose last amount is 42."""

    contexts = (LEDGER,)

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.cache_size = 1  # type: ignore[misc]

    def define(self, metadata: MetaData) -> None:
        self.totals = versioned_table(
            f"{self.key}_totals",
            metadata,
            Column("ledger_id", String(40), nullable=False),
            Column("total", Integer, nullable=False),
            Column("entries", Integer, nullable=False),
            Column("last", Integer, nullable=False),
            key=["ledger_id"],
        )
        self.totals.append_constraint(CheckConstraint(f"last <> {REFUSED}"))

    def versioned(self) -> dict[str, Any]:
        return {"totals": self.totals}

    def readings(self) -> dict[str, Reading]:
        return {
            "ledger": Reading(
                initial=lambda ledger_id: (ledger_id, Ledger(), 0),
                evolve=_evolve,
                image=_image,
                events=frozenset({"EntryRecorded"}),
            )
        }

    def rows(self, engine: Engine) -> list[tuple[Any, ...]]:
        """Every version (the key, the values, both intervals), in order."""
        t = self.totals
        with engine.connect() as conn:
            return sorted(tuple(r) for r in conn.execute(select(t)).all())

    def current(self, engine: Engine) -> dict[str, tuple[int, int, int]]:
        t = self.totals
        query = select(t.c.ledger_id, t.c.total, t.c.entries, t.c.last).where(
            t.c.known_to == FOREVER, t.c.valid_to == FOREVER
        )
        with engine.connect() as conn:
            return {r.ledger_id: (r.total, r.entries, r.last) for r in conn.execute(query)}

    def parks(self, engine: Engine) -> list[tuple[int, str]]:
        query = select(parked.c.seq, parked.c.error).where(parked.c.projection == self.key)
        with engine.connect() as conn:
            return sorted((seq, error.split(":")[0]) for seq, error in conn.execute(query))


def unreadable_history(
    conn: Connection,
    context: BoundedContext,
    aggregate_type: str,
    aggregate_id: str,
    before: int,
    version: int,
) -> None:
    """The runner's history beside it (the event log's, in the product): fails for the
    aggregates' versions in `UNREADABLE`, else holds nothing (the event store answers)."""
    if (aggregate_id, version) in UNREADABLE:
        raise LookupError(f"injected: the history of {aggregate_id} before v{version} unread")
    return None


@pytest.fixture(autouse=True)
def ledger_events(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(catalogue.EVENT_TYPES, "EntryRecorded", EntryRecorded)


@pytest.fixture(autouse=True)
def whole_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """A transaction holds the whole batch however long the last one took (its size not cut
    by the machine's speed): the batches are the ones each runner is given."""
    monkeypatch.setattr(projection_module, "FAIR_TURN", 1e6)
    monkeypatch.setattr(projection_module, "LONE_TURN", 1e6)


@pytest.fixture
def store_of(nats_client: NATS, fixed_clock: FixedClock) -> Any:
    async def made() -> EventStore:
        return await ledger_store(nats_client, fixed_clock)

    return made


@pytest.fixture
def ticking(fixed_clock: FixedClock) -> FixedClock:
    """Each entry recorded a second after the one before: each version is known for a while
    (one known and replaced at the same instant is never written, whatever its values)."""
    return fixed_clock


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engines(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """An engine per runner: on SQLite a file each (each its own shared delivery), on
    PostgreSQL one database (no shared delivery; the read models' keys differ)."""
    made: list[Engine] = []
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None

    def engine(name: str) -> Engine:
        found = make_engine(url or f"sqlite:///{tmp_path}/{name}.db")
        made.append(found)
        return found

    yield engine
    for found in made:
        found.dispose()


def runner_of(nc: NATS, engine: Engine, name: str, batch: int, ahead: bool) -> ProjectionRunner:
    runner = ProjectionRunner(nc, engine, Marks(name), batch=batch)
    runner.prepares_ahead = ahead
    runner.local_history = unreadable_history
    return runner


@pytest.mark.parametrize("ahead", [False, True], ids=["in-its-turn", "prepared-ahead"])
async def test_a_park_takes_effect_in_its_aggregates_later_rows_whatever_the_batches(
    nats_client: NATS, store_of: Any, ticking: FixedClock, engines: Any, ahead: bool
) -> None:
    store = await store_of()
    live = {
        "one": runner_of(nats_client, engines("one"), "parks_one", 1, ahead),
        "burst": runner_of(nats_client, engines("burst"), "parks_burst", 4, ahead),
    }
    for runner in live.values():
        await runner.start()
    try:
        commands = 0
        last = 0
        for group in GROUPS:
            for ledger, amount in group:
                commands += 1
                ticking.advance(timedelta(seconds=1))
                last = await append(store, ledger, [amount], f"c{commands}")
            for runner in live.values():
                assert await runner.wait_until({LEDGER.stream: last}, timeout=120)
    finally:
        for runner in live.values():
            await runner.stop()

    rebuilt = {
        f"rebuilt {batch}": runner_of(
            nats_client, engines(f"rebuilt{batch}"), f"parks_rebuilt_{batch}", batch, ahead
        )
        for batch in (500, 37)
    }
    for runner in rebuilt.values():
        await runner.start()
    try:
        for runner in rebuilt.values():
            assert await runner.wait_until({LEDGER.stream: last}, timeout=120)
    finally:
        for runner in rebuilt.values():
            await runner.stop()

    runners = {**live, **rebuilt}
    found = {}
    for name, runner in runners.items():
        model = runner.projection
        assert isinstance(model, Marks)
        found[name] = (model.current(runner.engine), model.parks(runner.engine))
        # Every version alike too (valid and known intervals: the instants are the clock's).
        found[name] += (model.rows(runner.engine),)
    # The right rows: each parked entry took effect nowhere (a2's history unread, the 42s
    # refused by the database).
    current, parks, _ = found["one"]
    assert current == EXPECTED
    assert [why for _, why in parks] == ["LookupError"] + ["IntegrityError"] * 3
    differing = {name: got[:2] for name, got in found.items() if got != found["one"]}
    assert differing == {}  # every batching as one event a batch
    loaded = sum(r.histories_loaded for r in runners.values())
    assert loaded > 0  # cold timelines were folded from the store's history
