"""A versioned read model that starts over what it wrote folds its aggregates' timelines ahead
(`ProjectionRunner._warm_up`), so the first change of each after a restart does not load the
aggregate's history on the live path; the versions it writes are those of a runner that
loaded each history when its aggregate changed (the path a warm-up saves)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from eventstore import projection
from eventstore.memory import InMemoryEventStore
from tests.integration.gateway.harness import Gateway, start_memory_gateway
from tests.service.bus import InProcessBus
from tests.service.story import freeze, plan, publish

TENDERS = ("t-a", "t-b", "t-c")


def versions(g: Gateway) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored version of every versioned table, in a stable order."""
    tables = [t for r in g.runners for t in r.metadata.sorted_tables if "versioned_key" in t.info]
    with g.engine.connect() as conn:
        return {
            t.name: sorted(
                (tuple(repr(v) for v in row) for row in conn.execute(t.select())), key=repr
            )
            for t in tables
        }


async def settled(g: Gateway) -> None:
    for runner in g.runners:
        assert await runner.wait_until(await runner.stream_heads(), timeout=10)


async def restarted_then_changed(
    store: InMemoryEventStore, bus: InProcessBus, url: str
) -> tuple[dict[str, list[tuple[Any, ...]]], int]:
    """Plan the tenders, stop, start again over the same database (waiting for its warm-up),
    then freeze and publish each: the versions written and the histories loaded."""
    first = await start_memory_gateway(store, url)
    await settled(first)
    await first.stop()
    second = await start_memory_gateway(store, url)
    try:
        for runner in second.runners:
            await runner.warmed()
        for tender_id in TENDERS:
            await freeze(bus, tender_id)
            await bus.accept(publish(tender_id))
        await settled(second)
        assert [(await r.status()).parked for r in second.runners] == [0] * len(second.runners)
        return versions(second), sum(r.history_loads for r in second.runners)
    finally:
        await second.stop()


@pytest.mark.parametrize("warm_up", [True, False], ids=["warm-up", "without"])
async def test_a_restarted_read_model_folds_its_timelines_ahead(
    store: InMemoryEventStore,
    bus: InProcessBus,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    warm_up: bool,
) -> None:
    if not warm_up:
        monkeypatch.setattr(projection, "WARM_UP_EVENTS", 0)
    for tender_id in TENDERS:
        await bus.accept(plan(tender_id))
    written, loads = await restarted_then_changed(store, bus, f"sqlite:///{tmp_path / 'a.db'}")
    if warm_up:
        assert loads == 0  # every changed tender's timeline was in memory already
    else:
        assert loads > 0  # what the warm-up saves: each first change loads its history
    # The versions of a read model built from nothing in one go (no history loaded).
    built = await start_memory_gateway(store, f"sqlite:///{tmp_path / 'b.db'}")
    try:
        await settled(built)
        assert versions(built) == written
    finally:
        await built.stop()
