"""A durable subscriber keeps receiving after the NATS server restarts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from nats.aio.client import Client as NATS

from eventstore.clock import FixedClock
from eventstore.store import CommandMetadata, EventStore, NewEvent, StoredEvent
from eventstore.subscription import AHEAD, DurableSubscriber
from eventstore.testing.nats_server import NatsServer, wait_jetstream_ready
from tests.support.ledger import LEDGER


async def append_one(store: EventStore, n: int) -> None:
    history = await store.load(LEDGER, "ledger", "d")
    event = NewEvent("EntryRecorded", 1, {"amount": n}, datetime(2020, 1, 1, tzinfo=UTC))
    await store.append(history, [event], CommandMetadata(f"c{n}", "test", f"c{n}"))


async def wait_for(predicate: object, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.05)


async def test_durable_subscriber_survives_server_restart(
    nats_server: NatsServer, nats_client: NATS, fixed_clock: FixedClock
) -> None:
    store = EventStore(nats_client, fixed_clock)
    await store.ensure_stream(LEDGER)
    received: list[int] = []

    async def handler(events: list[StoredEvent]) -> None:
        received.extend(e.envelope.payload["amount"] for e in events)

    subscriber = DurableSubscriber(nats_client, LEDGER, "restart-test", handler, batch=10)
    subscriber.start()
    try:
        for n in range(3):
            await append_one(store, n)
        await wait_for(lambda: len(received) == 3)

        nats_server.restart()
        await wait_jetstream_ready(nats_client, LEDGER.stream)
        for n in range(3, 6):
            await append_one(store, n)
        await wait_for(lambda: len(received) >= 6)
        assert received == [0, 1, 2, 3, 4, 5]
    finally:
        await subscriber.stop()


async def test_positioned_subscriber_recovers_deliveries_lost_on_the_way(
    nats_client: NATS, fixed_clock: FixedClock
) -> None:
    """Messages the server delivered that never reach us (a dead connection, an abandoned
    inbox) are pending for `ack_wait`, behind later ones: the subscriber must not hand the
    later ones over first, or a checkpointing owner skips the lost ones for good."""
    store = EventStore(nats_client, fixed_clock)
    await store.ensure_stream(LEDGER)
    await append_one(store, 1)
    seen: list[int] = []
    entered, release = asyncio.Event(), asyncio.Event()

    async def handler(events: list[StoredEvent]) -> None:
        entered.set()
        await release.wait()
        seen.extend(e.seq for e in events)

    subscriber = DurableSubscriber(
        nats_client, LEDGER, "gap-test", handler, batch=1, position=lambda: max(seen, default=0)
    )
    subscriber.start()
    js = nats_client.jetstream()
    try:
        await asyncio.wait_for(entered.wait(), 15)  # holding seq 1
        # It fetches ahead of its handler, at most AHEAD batches waiting and one more in the
        # fetcher's hands: once those are delivered to it, no pull request of its is open.
        held = 1 + AHEAD + 1
        for n in range(2, held + 1):
            await append_one(store, n)

        async def delivered() -> int:
            return (await js.consumer_info(LEDGER.stream, "gap-test")).num_ack_pending

        deadline = asyncio.get_running_loop().time() + 15
        while await delivered() < held:
            assert asyncio.get_running_loop().time() < deadline, "never fetched ahead"
            await asyncio.sleep(0.05)
        for n in (held + 1, held + 2, held + 3):
            await append_one(store, n)
        thief = await js.pull_subscribe_bind("gap-test", LEDGER.stream)
        lost = [m.metadata.sequence.stream for m in await thief.fetch(2, timeout=5)]
        assert lost == [held + 1, held + 2]  # delivered, never acked: redelivered in 60 s
        release.set()
        await wait_for(lambda: len(seen) >= held + 3)
        assert seen == list(range(1, held + 4))
        assert subscriber.gaps == 1
    finally:
        release.set()
        await subscriber.stop()


async def test_positioned_subscriber_fetches_while_its_handler_runs(
    nats_client: NATS, fixed_clock: FixedClock
) -> None:
    """What comes while the handler runs is fetched meanwhile: the batch after is at hand
    when the handler returns (delivered before it returned), not one round trip away."""
    store = EventStore(nats_client, fixed_clock)
    await store.ensure_stream(LEDGER)
    await append_one(store, 1)
    seen: list[list[int]] = []
    entered, release = asyncio.Event(), asyncio.Event()

    async def handler(events: list[StoredEvent]) -> None:
        entered.set()
        await release.wait()
        seen.append([e.seq for e in events])

    subscriber = DurableSubscriber(
        nats_client,
        LEDGER,
        "ahead-test",
        handler,
        position=lambda: max((s for batch in seen for s in batch), default=0),
    )
    subscriber.start()
    js = nats_client.jetstream()
    try:
        await asyncio.wait_for(entered.wait(), 15)  # holding seq 1
        await append_one(store, 2)
        await append_one(store, 3)
        deadline = asyncio.get_running_loop().time() + 15
        # All three delivered to the subscriber while its handler still holds the first.
        while (await js.consumer_info(LEDGER.stream, "ahead-test")).num_ack_pending < 3:
            assert asyncio.get_running_loop().time() < deadline, "nothing fetched meanwhile"
            await asyncio.sleep(0.05)
        assert seen == []
        release.set()
        await wait_for(lambda: sum(map(len, seen)) >= 3)
        assert [s for batch in seen for s in batch] == [1, 2, 3]
        assert subscriber.gaps == 0
    finally:
        release.set()
        await subscriber.stop()


async def test_positioned_subscriber_passes_over_deleted_messages(
    nats_client: NATS, fixed_clock: FixedClock
) -> None:
    """A sequence the stream no longer holds is not a gap (asked of the stream leader)."""
    store = EventStore(nats_client, fixed_clock, protect=False)  # event streams deny deletes
    await store.ensure_stream(LEDGER)
    for n in (1, 2, 3):
        await append_one(store, n)
    await nats_client.jetstream().delete_msg(LEDGER.stream, 2)
    seen: list[int] = []

    async def handler(events: list[StoredEvent]) -> None:
        seen.extend(e.seq for e in events)

    position = lambda: 1 if not seen else seen[-1]  # noqa: E731  (already has seq 1)
    subscriber = DurableSubscriber(nats_client, LEDGER, "deleted-test", handler, position=position)
    subscriber.start()
    try:
        await wait_for(lambda: seen == [3])
        await append_one(store, 4)
        await wait_for(lambda: seen == [3, 4])
        assert subscriber.gaps == 0
    finally:
        await subscriber.stop()
