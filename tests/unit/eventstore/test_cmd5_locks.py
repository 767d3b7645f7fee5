"""`AggregateLocks` without an asyncio lock: one holder per aggregate, the others served in
arrival order, a waiter cancelled while it waits (or just as it is handed the aggregate)
holding up nobody, and nothing left once nobody holds or waits."""

from __future__ import annotations

import asyncio

import pytest

from eventstore.aggregate_cache import AggregateLocks

KEY = ("ledger", "ledger", "l")


async def test_a_waiter_cancelled_while_it_waits_holds_up_nobody() -> None:
    locks = AggregateLocks()
    order: list[str] = []
    release = asyncio.Event()

    async def hold(name: str, until: asyncio.Event | None = None) -> None:
        async with locks.hold(KEY):
            order.append(name)
            if until is not None:
                await until.wait()

    first = asyncio.create_task(hold("first", release))
    await asyncio.sleep(0)
    cancelled = asyncio.create_task(hold("cancelled"))
    last = asyncio.create_task(hold("last"))
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(first, last)
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert order == ["first", "last"]
    assert len(locks) == 0


async def test_a_waiter_cancelled_as_it_is_handed_the_aggregate_passes_it_on() -> None:
    locks = AggregateLocks()
    order: list[str] = []

    async def hold(name: str) -> None:
        async with locks.hold(KEY):
            order.append(name)

    await locks._take(KEY)  # held here
    handed = asyncio.create_task(hold("handed"))
    after = asyncio.create_task(hold("after"))
    await asyncio.sleep(0)
    locks._release(KEY)  # handed to the first waiter ...
    handed.cancel()  # ... which is cancelled before it runs
    await asyncio.gather(handed, after, return_exceptions=True)
    assert order == ["after"]
    assert len(locks) == 0


async def test_different_aggregates_do_not_wait_for_each_other() -> None:
    locks = AggregateLocks()
    async with locks.hold(("a", "a", "1")), locks.hold(("a", "a", "2")):
        assert len(locks) == 2
    assert len(locks) == 0
