"""A read model restarted over its database loads an aggregate's earlier events when the
aggregate next changes (its timeline is not in memory): on JetStream subject by subject
(`eventstore.history_by_subject`), or by the wildcard when one answer cannot name every
subject; either way it writes the versions of a read model built from nothing."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client as NATS

from eventstore import history_by_subject
from eventstore.store import EventStore, StoredEvent
from tests.integration.gateway.harness import Gateway, start_gateway
from tests.integration.gateway.history import KPN, VNG


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


async def amend(g: Gateway, summary: str, on: date) -> list[StoredEvent]:
    return await g.given(
        "contract",
        "ContractAmended",
        {"contract_id": "c1", "amended_on": on.isoformat(), "summary": summary},
        on=on,
    )


@pytest.mark.parametrize("subjects_at_most", [None, 1], ids=["by-subject", "wildcard"])
async def test_a_restarted_read_model_loads_a_changed_aggregates_history(
    nats_client: NATS,
    event_store: EventStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    subjects_at_most: int | None,
) -> None:
    if subjects_at_most is not None:
        monkeypatch.setattr(history_by_subject, "SUBJECTS_AT_MOST", subjects_at_most)
    url = f"sqlite:///{tmp_path / 'a.db'}"
    first = await start_gateway(nats_client, event_store, url)
    try:
        stored = await first.given(
            "contract",
            "ContractSigned",
            {
                "contract_id": "c1",
                "kind": "contract",
                "contracting_authority": VNG,
                "suppliers": [{"supplier_id": KPN, "name": "KPN", "lot_ids": []}],
                "signed_on": "2016-01-01",
                "start_date": "2016-01-01",
                "end_date": "2019-01-14",
                "value_eur": 1000,
            },
            on=date(2016, 1, 1),
        )
        stored += await amend(first, "eerste", date(2017, 1, 1))
        await first.settle(stored)
    finally:
        await first.stop()
    second = await start_gateway(nats_client, event_store, url)  # no timeline in memory
    second._commands = first._commands  # its given commands' ids go on from the first's
    try:
        await second.settle(await amend(second, "tweede", date(2018, 1, 1)))
        written = versions(second)
        readers = [r._history_reader for r in second.runners if r._history_reader is not None]
        assert sum(r.reads for r in readers) >= 1  # the contract's history was loaded
        assert sum(r.wildcard_reads for r in readers) == (0 if subjects_at_most is None else 1)
        assert [(await r.status()).parked for r in second.runners] == [0] * len(second.runners)
    finally:
        await second.stop()
    built = await start_gateway(nats_client, event_store, f"sqlite:///{tmp_path / 'b.db'}")
    try:
        for runner in built.runners:
            assert await runner.wait_until(await runner.stream_heads(), timeout=10)
        assert versions(built) == written
        assert any(rows for rows in written.values())
    finally:
        await built.stop()
