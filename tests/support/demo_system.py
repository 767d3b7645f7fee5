"""The demo history loaded into a running embedded `System` (the backup, erasure and
demo-verify tests' shared setup)."""

from __future__ import annotations

import asyncio

from nats.aio.client import Client as NATS

from bootstrap.demo import load_demo
from bootstrap.system import System
from contracts_schema.subjects import CONTEXTS
from eventstore.store import EventStore
from gateway.commandbus import CommandBus


async def load_the_demo(nc: NATS) -> None:
    """The demo history through the command bus, every command accepted (a loaded machine's
    replies may take long: the bus waits 120 s)."""
    refused: list[str] = []
    await load_demo(CommandBus(nc, timeout=120), say=refused.append)
    assert refused == []


async def caught_up(nc: NATS, system: System) -> dict[str, int]:
    """Every context stream's head, once each of the system's read models has applied it."""
    store = EventStore(nc, system.clock)
    heads = {c.stream: await store.last_seq(c) for c in CONTEXTS.values()}
    assert all(await asyncio.gather(*(r.wait_until(heads, 120) for r in system.all_runners)))
    return heads
