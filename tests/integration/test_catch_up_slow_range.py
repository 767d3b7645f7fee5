"""A catch-up range that arrives slowly but steadily is read whole, not given up on."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from eventstore import catchup
from eventstore.clock import FixedClock
from eventstore.projection import ProjectionRunner
from eventstore.sql import make_engine
from eventstore.store import EventStore
from eventstore.trust import Delivered
from tests.integration.test_projection_runner import append
from tests.support.ledger import LEDGER
from tests.support.ledger_projection import LedgerTotals


async def test_a_range_slower_than_stalled_but_moving_is_caught_up_in_bulk(
    nats_client: NATS,
    fixed_clock: FixedClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = EventStore(nats_client, fixed_clock)
    await store.ensure_stream(LEDGER)
    last = 0
    for i in range(30):  # 1,500 events: one range, above CATCH_UP_FROM
        last = await append(store, f"l{i % 3}", [i * 50 + j for j in range(50)], f"b{i}")

    # As on a loaded machine: every message of the range is taken slowly, so the whole range
    # needs ~3 stall periods while a message arrives every millisecond.
    monkeypatch.setattr(catchup, "STALLED", 0.5)
    taken = catchup._delivered

    def slowly(msg: Msg) -> Delivered:
        time.sleep(0.001)
        return taken(msg)

    monkeypatch.setattr(catchup, "_delivered", slowly)
    runner = ProjectionRunner(
        nats_client, make_engine(f"sqlite:///{tmp_path}/l.db"), LedgerTotals(), batch=100
    )
    await runner.start()
    try:
        assert await runner.wait_until({"LEDGER": last}, timeout=120)
        assert runner.caught_up_in_bulk == last  # the bulk read, not the durable fallback
    finally:
        await runner.stop()
