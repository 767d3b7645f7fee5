"""A durable subscriber keeps receiving after the NATS server restarts."""

from __future__ import annotations

import asyncio

from nats.aio.client import Client as NATS

from eventstore.clock import FixedClock
from eventstore.store import StoredEvent
from eventstore.subscription import DurableSubscriber
from eventstore.testing.nats_server import NatsServer
from tests.support.ledger import LEDGER
from tests.support.subscribers import (
    across_a_restart,
    append_one,
    ledger_store,
    wait_for,
    with_one_deleted,
)


async def test_durable_subscriber_survives_server_restart(
    nats_server: NatsServer, nats_client: NATS, fixed_clock: FixedClock
) -> None:
    store = await ledger_store(nats_client, fixed_clock)
    received: list[int] = []

    async def handler(events: list[StoredEvent]) -> None:
        received.extend(e.envelope.payload["amount"] for e in events)

    subscriber = DurableSubscriber(nats_client, LEDGER, "restart-test", handler, batch=10)
    await across_a_restart(nats_server, nats_client, store, subscriber, received)
    assert received == [0, 1, 2, 3, 4, 5]


async def test_positioned_subscriber_recovers_deliveries_lost_on_the_way(
    nats_client: NATS, fixed_clock: FixedClock
) -> None:
    """Messages the server delivered that never reach us (a dead connection, an abandoned
    inbox) are pending for `ack_wait`, behind later ones: the subscriber must not hand the
    later ones over first, or a checkpointing owner skips the lost ones for good."""
    store = await ledger_store(nats_client, fixed_clock)
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
    try:
        await asyncio.wait_for(entered.wait(), 120)  # holding seq 1; no pull request is open
        for n in (2, 3, 4):
            await append_one(store, n)
        thief = await nats_client.jetstream().pull_subscribe_bind("gap-test", LEDGER.stream)
        lost = [m.metadata.sequence.stream for m in await thief.fetch(2, timeout=30)]
        assert lost == [2, 3]  # delivered, never acked: the server redelivers them in 60 s
        release.set()
        await wait_for(lambda: len(seen) >= 4)
        assert seen == [1, 2, 3, 4]
        assert subscriber.gaps == 1
    finally:
        release.set()
        await subscriber.stop()


async def test_positioned_subscriber_passes_over_deleted_messages(
    nats_client: NATS, fixed_clock: FixedClock
) -> None:
    """A sequence the stream no longer holds is not a gap (asked of the stream leader)."""
    store = await with_one_deleted(nats_client, fixed_clock)
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
