"""A checkpointing runner's live delivery (`eventstore.live_pull`): one lingering pull request
the server pushes into, cumulative acks, and every guarantee of the positioned durable
subscriber (restarts, deliveries lost on the way, deleted messages)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from nats.aio.client import Client as NATS
from nats.js.api import AckPolicy, ConsumerInfo
from sqlalchemy import select

from eventstore.catchup import CatchUpSubscriber
from eventstore.clock import FixedClock
from eventstore.projection import ProjectionRunner, parked
from eventstore.sql import make_engine
from eventstore.store import StoredEvent
from eventstore.testing.nats_server import NatsServer
from eventstore.trust import UNDECODABLE
from tests.integration.test_projection_runner import append
from tests.support.ledger import LEDGER
from tests.support.ledger_projection import LedgerTotals
from tests.support.subscribers import (
    across_a_restart,
    append_one,
    ledger_store,
    wait_for,
    with_one_deleted,
)

Handler = Callable[[list[StoredEvent]], Awaitable[None]]


async def _nothing_behind() -> int:
    return 0  # the head as seen at start: never far behind, no bulk catch-up


def live(
    nc: NATS, durable: str, handler: Handler, seen: list[int], batch: int = 10
) -> CatchUpSubscriber:
    return CatchUpSubscriber(
        nc,
        LEDGER,
        durable,
        handler,
        head=_nothing_behind,
        position=lambda: max(seen, default=0),
        batch=batch,
    )


async def consumer_when(
    nc: NATS, durable: str, predicate: Callable[[ConsumerInfo], bool]
) -> ConsumerInfo:
    """The consumer's info once `predicate` holds (or the last seen, after ~15 s)."""
    for _ in range(300):
        info: ConsumerInfo = await nc.jetstream().consumer_info(LEDGER.stream, durable)
        if predicate(info):
            break
        await asyncio.sleep(0.05)
    return info


async def test_events_stored_while_a_batch_applies_are_already_delivered(
    nats_client: NATS, fixed_clock: FixedClock
) -> None:
    """The next events come to the process while the batch before is applied (no request
    after its commit), are handed over at once after it, and one ack acknowledges them."""
    store = await ledger_store(nats_client, fixed_clock)
    await append_one(store, 1)
    seen: list[int] = []
    batches: list[list[int]] = []
    entered, release = asyncio.Event(), asyncio.Event()

    async def handler(events: list[StoredEvent]) -> None:
        entered.set()
        await release.wait()
        batches.append([e.seq for e in events])
        seen.extend(e.seq for e in events)

    subscriber = live(nats_client, "pushed-test", handler, seen)
    subscriber.start()
    try:
        await asyncio.wait_for(entered.wait(), 15)  # holding seq 1
        for n in (2, 3, 4):
            await append_one(store, n)
        # Delivered to this process (pending its ack) while seq 1 is still being applied.
        info = await consumer_when(nats_client, "pushed-test", lambda i: i.num_ack_pending == 4)
        assert info.num_ack_pending == 4
        assert info.config.ack_policy == AckPolicy.ALL
        release.set()
        await wait_for(lambda: seen == [1, 2, 3, 4])
        assert batches == [[1], [2, 3, 4]]  # the three handed over at once, in order
        info = await consumer_when(nats_client, "pushed-test", lambda i: i.num_ack_pending == 0)
        assert info.num_ack_pending == 0  # the batch's one ack acknowledged all three
        assert info.ack_floor is not None
        assert info.ack_floor.stream_seq == 4
    finally:
        release.set()
        await subscriber.stop()


async def test_live_delivery_survives_server_restart(
    nats_server: NatsServer, nats_client: NATS, fixed_clock: FixedClock
) -> None:
    store = await ledger_store(nats_client, fixed_clock)
    seen: list[int] = []

    async def handler(events: list[StoredEvent]) -> None:
        seen.extend(e.seq for e in events)

    subscriber = live(nats_client, "restart-live", handler, seen)
    await across_a_restart(nats_server, nats_client, store, subscriber, seen)
    assert seen == [1, 2, 3, 4, 5, 6]


async def test_live_delivery_recovers_deliveries_lost_on_the_way(
    nats_client: NATS, fixed_clock: FixedClock
) -> None:
    """Messages the server delivered that never reach us are pending for `ack_wait`, behind
    later ones: they are not skipped (a checkpointing owner would skip them for good)."""
    store = await ledger_store(nats_client, fixed_clock)
    await append_one(store, 1)
    seen: list[int] = []
    entered, release = asyncio.Event(), asyncio.Event()

    async def handler(events: list[StoredEvent]) -> None:
        entered.set()
        await release.wait()
        seen.extend(e.seq for e in events)

    subscriber = live(nats_client, "gap-live", handler, seen, batch=1)
    subscriber.start()
    try:
        await asyncio.wait_for(entered.wait(), 15)  # holding seq 1; seq 2 fills our buffer
        for n in (2, 3, 4):
            await append_one(store, n)
        await consumer_when(nats_client, "gap-live", lambda i: i.num_ack_pending == 2)
        thief = await nats_client.jetstream().pull_subscribe_bind("gap-live", LEDGER.stream)
        lost = [m.metadata.sequence.stream for m in await thief.fetch(2, timeout=5)]
        assert lost == [3, 4]  # delivered, never acked: the server redelivers them in 60 s
        release.set()
        await wait_for(lambda: len(seen) >= 4, timeout=30)
        assert seen == [1, 2, 3, 4]
        assert subscriber.gaps + subscriber.rearms >= 1
    finally:
        release.set()
        await subscriber.stop()


async def test_live_delivery_passes_over_deleted_messages(
    nats_client: NATS, fixed_clock: FixedClock
) -> None:
    """A sequence the stream no longer holds is not a gap (asked of the stream leader)."""
    store = await with_one_deleted(nats_client, fixed_clock)
    seen: list[int] = [1]  # already has seq 1

    async def handler(events: list[StoredEvent]) -> None:
        seen.extend(e.seq for e in events)

    subscriber = live(nats_client, "deleted-live", handler, seen)
    subscriber.start()
    try:
        await wait_for(lambda: seen == [1, 3])
        await append_one(store, 4)
        await wait_for(lambda: seen == [1, 3, 4])
        assert subscriber.gaps == 0
    finally:
        await subscriber.stop()


async def test_a_runner_fed_live_still_parks_a_forgery(
    nats_client: NATS, fixed_clock: FixedClock, tmp_path: Path
) -> None:
    """Through the live delivery, what may not be taken as fact is still judged and parked
    with why; the events around it applied once, in order."""
    store = await ledger_store(nats_client, fixed_clock)
    engine = make_engine(f"sqlite:///{tmp_path}/live.db")
    projection = LedgerTotals()
    runner = ProjectionRunner(nats_client, engine, projection, batch=10)
    await runner.start()
    try:
        await append(store, "a", [1, 2], "first")
        forged = await nats_client.jetstream().publish(
            LEDGER.event_subject("ledger", "a", "EntryRecorded"), b"not an envelope"
        )
        last = await append(store, "b", [4], "after")  # "a"'s history holds the forgery
        assert await runner.wait_until({"LEDGER": last}, timeout=30)
    finally:
        await runner.stop()
    with engine.connect() as conn:
        assert projection.rows(conn) == [("a", 3, 2), ("b", 4, 1)]
        refused = conn.execute(select(parked.c.seq, parked.c.error)).all()
    engine.dispose()
    assert [seq for seq, _ in refused] == [forged.seq]
    assert refused[0][1].startswith(UNDECODABLE)
