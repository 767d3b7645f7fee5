"""The importer's reads of what the registry recorded (`audit/ocds/importer_recorded.py`), on
a real JetStream: the aggregates asked within one loop turn are asked together whether they
have events (one multi-subject Direct Get); each state is what `load_folded` gives, for
aggregates with events and without, and when the question cannot be asked."""

from __future__ import annotations

import asyncio
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from audit.ocds.importer import import_items
from audit.ocds.importer_map import contract_id_of, tender_id_of
from audit.ocds.importer_read import read
from audit.ocds.importer_recorded import CHUNK, RecordedReader
from contracts_schema.folds import FOLDS
from contracts_schema.subjects import REGISTRY
from eventstore.clock import SystemClock
from eventstore.folded import load_folded
from eventstore.memory import InMemoryEventStore
from eventstore.service_app import CommandServer
from eventstore.serving import request_reply
from eventstore.store import EventStore
from tests.service.test_ocds_import_group import package

TENDER, CONTRACT = FOLDS["registry", "tender"], FOLDS["registry", "contract"]


async def _asked(nc: NATS) -> tuple[list[bytes], Any]:
    """The Direct Get requests sent to the registry's stream from now on."""
    seen: list[bytes] = []

    async def on(msg: Msg) -> None:
        seen.append(msg.data)

    sub = await nc.subscribe(f"$JS.API.DIRECT.GET.{REGISTRY.stream}", cb=on)
    return seen, sub


async def test_the_states_are_load_foldeds_and_the_fresh_ones_are_asked_together(
    nats_client: NATS, registry: CommandServer
) -> None:
    store = EventStore(nats_client, SystemClock())
    report = await import_items(
        read(package(), "fixture"),
        lambda s, p: request_reply(nats_client, s, p, timeout=60),
        store,
    )
    assert report.imported
    assert not report.skipped
    recorded = [tender_id_of(f"ocds-gtnl99-g{n}") for n in range(3)]
    contracts = [contract_id_of(f"ocds-gtnl99-g{n}", "c1") for n in range(3)]
    fresh = [tender_id_of(f"ocds-nowhere-{n}") for n in range(40)]
    asked = [(TENDER, t) for t in (*recorded, *fresh)] + [(CONTRACT, c) for c in contracts]
    asked += [(CONTRACT, contract_id_of(f"ocds-nowhere-{n}", "c1")) for n in range(40)]
    expected = [await load_folded(store, fold, i) for fold, i in asked]
    assert any(s.exists for s in expected)
    assert not all(s.exists for s in expected)
    seen, sub = await _asked(nats_client)
    try:
        reader = RecordedReader(store)
        states = await asyncio.gather(*(reader.folded(fold, i) for fold, i in asked))
        await nats_client.flush()
    finally:
        await sub.unsubscribe()
    assert states == expected
    together = [m for m in seen if b"multi_last" in m]
    # every aggregate of the turn asked together, CHUNK to a question
    assert len(together) == -(-len(asked) // CHUNK) == 2
    # Only the aggregates with events were loaded one by one.
    assert len(seen) - len(together) == sum(1 for s in expected if s.exists)


async def test_what_cannot_be_asked_together_is_loaded_as_before(nats_client: NATS) -> None:
    """No registry stream yet (the question is not answered: each is loaded, and folded
    from nothing as `load_folded` does); an id that is no single subject token; a store
    that is not JetStream's."""
    store = EventStore(nats_client, SystemClock())
    odd = ["ocds-a-1", "ocds.b.*", "ocds >"]
    reader = RecordedReader(store)
    states = await asyncio.gather(*(reader.folded(TENDER, i) for i in odd))
    assert states == [await load_folded(store, TENDER, i) for i in odd]
    memory = InMemoryEventStore(SystemClock())
    assert await RecordedReader(memory).folded(TENDER, "ocds-a-1") == await load_folded(
        memory, TENDER, "ocds-a-1"
    )
