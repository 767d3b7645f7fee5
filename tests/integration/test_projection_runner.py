"""The projection runner on SQLite and PostgreSQL: exactly once, parking, restarts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from nats.aio.client import Client as NATS
from sqlalchemy import select

from eventstore.clock import FixedClock
from eventstore.projection import ProjectionRunner, checkpoints, parked
from eventstore.sql import make_engine
from eventstore.store import CommandMetadata, EventStore, NewEvent
from tests.support.ledger import LEDGER
from tests.support.ledger_projection import LedgerTotals


async def append(store: EventStore, ledger: str, amounts: list[object], command_id: str) -> int:
    history = await store.load(LEDGER, "ledger", ledger)
    events = [
        NewEvent("EntryRecorded", 1, {"amount": a}, datetime(2020, 1, 1, tzinfo=UTC))
        for a in amounts
    ]
    stored = await store.append(history, events, CommandMetadata(command_id, "test", command_id))
    return stored[-1].seq


async def test_runner_applies_each_event_once_and_survives_restart(
    nats_client: NATS, fixed_clock: FixedClock, database_url: str
) -> None:
    store = EventStore(nats_client, fixed_clock)
    await store.ensure_stream(LEDGER)
    for i in range(10):
        await append(store, f"l{i % 3}", [i + 1], f"a{i}")
    engine = make_engine(database_url)
    projection = LedgerTotals()
    runner = ProjectionRunner(nats_client, engine, projection, batch=4)
    await runner.start()
    assert await runner.wait_until({"LEDGER": 10}, timeout=120)
    await runner.stop()

    # More events while the runner is down; a new runner resumes after the checkpoint.
    last = 0
    for i in range(10, 16):
        last = await append(store, f"l{i % 3}", [i + 1], f"a{i}")
    runner = ProjectionRunner(nats_client, engine, LedgerTotals(), batch=4)
    await runner.start()
    assert await runner.wait_until({"LEDGER": last}, timeout=120)
    await runner.stop()

    with engine.connect() as conn:
        live = projection.rows(conn)
    expected = {}
    for i in range(16):
        total, entries = expected.get(f"l{i % 3}", (0, 0))
        expected[f"l{i % 3}"] = (total + i + 1, entries + 1)
    assert live == [(k, *v) for k, v in sorted(expected.items())]


async def test_redelivered_batch_is_not_applied_twice(
    nats_client: NATS, fixed_clock: FixedClock, database_url: str
) -> None:
    store = EventStore(nats_client, fixed_clock)
    await store.ensure_stream(LEDGER)
    await append(store, "r", [5, 6], "r1")
    events = [e async for e in store.read_stream(LEDGER)]
    projection = LedgerTotals()
    runner = ProjectionRunner(nats_client, make_engine(database_url), projection)
    runner.create_tables()
    assert runner.apply_batch("LEDGER", events) == 2
    assert runner.apply_batch("LEDGER", events) == 2  # as after a crash before the ack
    with runner._engine.connect() as conn:
        assert projection.rows(conn) == [("r", 11, 2)]
        assert conn.execute(select(checkpoints.c.seq)).scalar_one() == 2


async def test_unappliable_event_is_parked_and_the_rest_flow(
    nats_client: NATS, fixed_clock: FixedClock, database_url: str
) -> None:
    store = EventStore(nats_client, fixed_clock)
    await store.ensure_stream(LEDGER)
    await append(store, "p", [1], "p1")
    poison_seq = await append(store, "p", ["not a number"], "p2")
    last = await append(store, "p", [2], "p3")
    engine = make_engine(database_url)
    projection = LedgerTotals()
    runner = ProjectionRunner(nats_client, engine, projection)
    await runner.start()
    try:
        assert await runner.wait_until({"LEDGER": last}, timeout=120)
    finally:
        await runner.stop()
    with engine.connect() as conn:
        assert projection.rows(conn) == [("p", 3, 2)]
        parked_rows = conn.execute(select(parked.c.seq, parked.c.event_type, parked.c.error)).all()
    assert [(r.seq, r.event_type) for r in parked_rows] == [(poison_seq, "EntryRecorded")]
    assert "unusable amount" in parked_rows[0].error
    assert runner.parked_count == 1


async def test_replicas_on_one_postgres_database_elect_one_writer(
    nats_client: NATS, fixed_clock: FixedClock, postgres_url: str
) -> None:
    # Two replicas of one projection on one database: one writes, the other stands by,
    # follows the checkpoints for read-your-writes and takes over when the leader stops.
    store = EventStore(nats_client, fixed_clock)
    await store.ensure_stream(LEDGER)
    engine_a, engine_b = make_engine(postgres_url), make_engine(postgres_url)
    first = ProjectionRunner(nats_client, engine_a, LedgerTotals(), batch=3)
    second = ProjectionRunner(nats_client, engine_b, LedgerTotals(), batch=3)
    await first.start()
    await second.start()
    try:
        assert (first.leading, second.leading) == (True, False)
        last = 0
        for i in range(12):
            last = await append(store, "shared", [1], f"s{i}")
        assert await first.wait_until({"LEDGER": last}, timeout=120)
        assert await second.wait_until({"LEDGER": last}, timeout=120), (
            "standby follows the checkpoint"
        )

        await first.stop()
        for i in range(12, 20):
            last = await append(store, "shared", [1], f"s{i}")
        assert await second.wait_until({"LEDGER": last}, timeout=120)
        assert second.leading
    finally:
        await first.stop()
        await second.stop()
    with engine_b.connect() as conn:
        assert second.projection.rows(conn) == [("shared", 20, 20)], (
            "every event applied exactly once"
        )


async def test_runners_far_behind_catch_up_in_bulk_exactly_once_then_follow_live(
    nats_client: NATS, fixed_clock: FixedClock, database_url: str, tmp_path: Path
) -> None:
    """Two runners (two databases) start 5,000 events behind: they catch up with shared bulk
    reads (one unusable event parked on the way), then take new events from their durable
    consumers; every event counts once."""
    store = EventStore(nats_client, fixed_clock)
    await store.ensure_stream(LEDGER)
    expected: dict[str, tuple[int, int]] = {}
    last = 0
    for i in range(100):
        amounts: list[object] = [i * 50 + j for j in range(50)]
        if i == 57:
            amounts[3] = "not a number"  # parked, never counted
        last = await append(store, f"l{i % 7}", amounts, f"bulk{i}")
        usable = [a for a in amounts if isinstance(a, int)]
        total, entries = expected.get(f"l{i % 7}", (0, 0))
        expected[f"l{i % 7}"] = (total + sum(usable), entries + len(usable))
    engines = [make_engine(database_url), make_engine(f"sqlite:///{tmp_path}/second.db")]
    projections = [LedgerTotals(), LedgerTotals()]
    runners = [
        ProjectionRunner(nats_client, e, p, batch=100)
        for e, p in zip(engines, projections, strict=True)
    ]
    try:
        for runner in runners:
            await runner.start()
        for runner in runners:
            assert await runner.wait_until({"LEDGER": last}, timeout=120)
            # The bulk path did the catching up (it hands over to the durable consumer on any
            # trouble, which would reach the same totals).
            assert runner.caught_up_in_bulk >= 4_000
        last = await append(store, "l0", [7, 8], "live")  # after the catch-up: the live path
        total, entries = expected["l0"]
        expected["l0"] = (total + 15, entries + 2)
        for runner in runners:
            assert await runner.wait_until({"LEDGER": last}, timeout=120)
    finally:  # a runner left running outlives the test's loop (its teardown would hang)
        for runner in runners:
            await runner.stop()
    for engine, projection, runner in zip(engines, projections, runners, strict=True):
        with engine.connect() as conn:
            assert projection.rows(conn) == [(k, *v) for k, v in sorted(expected.items())]
            assert conn.execute(select(parked.c.event_id)).all() != []
        assert runner.parked_count == 1
