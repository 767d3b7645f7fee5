"""The live pull's request is renewed when it ends, not when the delivery next asks for a
batch (fresh19): an event stored while a batch is applied, after the lingering request
expired, is still pushed to the process at once, not only after that apply."""

from __future__ import annotations

import asyncio

import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from eventstore import live_pull
from eventstore.clock import FixedClock
from eventstore.store import StoredEvent
from tests.integration.test_live_pull import consumer_when, live
from tests.support.subscribers import append_one, ledger_store, wait_for


async def test_an_event_stored_after_the_request_expired_mid_apply_is_pushed(
    nats_client: NATS, fixed_clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live_pull, "EXPIRES", 0.5)  # a request ends while the batch applies
    store = await ledger_store(nats_client, fixed_clock)
    await append_one(store, 1)
    seen: list[int] = []
    entered, release = asyncio.Event(), asyncio.Event()
    expired = asyncio.Event()

    async def handler(events: list[StoredEvent]) -> None:
        entered.set()
        await release.wait()
        seen.extend(e.seq for e in events)

    async def spy(msg: Msg) -> None:  # every inbox of this connection: a request's end
        if msg.headers and msg.headers.get("Status") == "408":
            expired.set()

    subscriber = live(nats_client, "renewed-test", handler, seen)
    subscriber.start()
    watching = None
    try:
        await asyncio.wait_for(entered.wait(), 60)  # holding seq 1: no batch asked for
        watching = await nats_client.subscribe("_INBOX.>", cb=spy)
        await asyncio.wait_for(expired.wait(), 60)  # a request ended while it is held
        await append_one(store, 2)
        info = await consumer_when(
            nats_client, "renewed-test", lambda i: (i.delivered.stream_seq or 0) >= 2
        )
        assert info.delivered.stream_seq == 2  # pushed while seq 1 is still being applied
        assert seen == []
        release.set()
        await wait_for(lambda: seen == [1, 2])
    finally:
        release.set()
        if watching is not None:
            await watching.unsubscribe()
        await subscriber.stop()
