"""A versioned read model restarted over its database folds an aggregate's earlier events
when the aggregate next changes (its timeline is not in memory): from the event log beside it
when that holds the whole history (`gateway.projections.event_log_history`), else from the
event store; either way it writes the versions of a read model built from nothing.

The history is stored at schema version 1 (`Gateway.given`), older than the contracts'
current models: the event log's copy is read through the upcasters as the store's is."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS
from sqlalchemy import delete

from eventstore.store import EventStore, StoredEvent
from gateway.projections.event_log import EventLogProjection
from tests.integration.gateway.harness import Gateway, start_gateway
from tests.integration.gateway.history import sign_c1


async def amend(g: Gateway, summary: str, on: date) -> list[StoredEvent]:
    return await g.given(
        "contract",
        "ContractAmended",
        {"contract_id": "c1", "amended_on": on.isoformat(), "summary": summary},
        on=on,
    )


def forget_in_the_event_log(g: Gateway, event: StoredEvent) -> None:
    """The event log without one of the contract's events (as if it had parked it)."""
    log = next(r.projection for r in g.runners if isinstance(r.projection, EventLogProjection))
    assert isinstance(log, EventLogProjection)
    with g.engine.begin() as conn:
        t = log.events
        gone = conn.execute(delete(t).where(t.c.stream == event.stream, t.c.seq == event.seq))
        assert gone.rowcount == 1


@pytest.mark.parametrize("event_log", ["whole", "without-one"])
async def test_a_restarted_read_model_folds_a_changed_aggregates_history(
    nats_client: NATS, event_store: EventStore, tmp_path: Path, event_log: str
) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    first = await start_gateway(nats_client, event_store, url)
    try:
        stored = await sign_c1(first)
        stored += await amend(first, "eerste", date(2017, 1, 1))
        await first.settle(stored)
        if event_log == "without-one":
            forget_in_the_event_log(first, stored[1])
    finally:
        await first.stop()
    second = await start_gateway(nats_client, event_store, url)  # no timeline in memory
    second._commands = first._commands  # its given commands' ids go on from the first's
    try:
        await second.settle(await amend(second, "tweede", date(2018, 1, 1)))
        written = second.versions()
        local = sum(r.histories_local for r in second.runners)
        loaded = sum(r.histories_loaded for r in second.runners)
        if event_log == "whole":
            assert (local, loaded) == (1, 0)  # the contract's history, from the event log
        else:
            assert (local, loaded) == (0, 1)  # a version missing there: the event store's
        assert [(await r.status()).parked for r in second.runners] == [0] * len(second.runners)
    finally:
        await second.stop()
    built = await start_gateway(nats_client, event_store, f"sqlite:///{tmp_path / 'b.db'}")
    try:
        for runner in built.runners:
            assert await runner.wait_until(await runner.stream_heads(), timeout=120)
        assert built.versions() == written
        assert any(rows for rows in written.values())
    finally:
        await built.stop()
