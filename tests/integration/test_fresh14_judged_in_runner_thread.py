"""Live batches reach a runner as delivered and its thread reads and judges them (decode, hash,
signature: `eventstore.trust.read_event`), not the projector's event loop (fresh14): what may
not be taken as fact is still parked with why, the rest applied once, in order."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client as NATS
from sqlalchemy import select

from eventstore.clock import FixedClock
from eventstore.projection import ProjectionRunner, parked
from eventstore.sql import make_engine
from eventstore.store import EventStore
from eventstore.trust import ALTERED, UNDECODABLE, Trust
from tests.integration.test_projection_runner import append
from tests.support.ledger import LEDGER
from tests.support.ledger_projection import LedgerTotals


async def test_live_events_are_judged_in_the_runner_thread_and_refusals_still_parked(
    nats_client: NATS, fixed_clock: FixedClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    judged_on: set[str] = set()
    placed_refusal = Trust.placed_refusal

    def recording(self: Trust, *args: Any) -> Any:
        judged_on.add(threading.current_thread().name)
        return placed_refusal(self, *args)

    monkeypatch.setattr(Trust, "placed_refusal", recording)
    store = EventStore(nats_client, fixed_clock)
    await store.ensure_stream(LEDGER)
    engine = make_engine(f"sqlite:///{tmp_path}/live.db")
    projection = LedgerTotals()
    runner = ProjectionRunner(nats_client, engine, projection, batch=10)
    await runner.start()  # nothing stored yet: every event below comes live
    js = nats_client.jetstream()
    subject = LEDGER.event_subject("ledger", "a", "EntryRecorded")
    try:
        first = await append(store, "a", [1, 2], "first")
        forged = await js.publish(subject, b"not an envelope")
        # A stored event's bytes with its amount changed and its hash kept: altered.
        stored = json.loads((await js.get_msg(LEDGER.stream, first)).data or b"")
        stored["payload"]["amount"] = 1_000
        altered = await js.publish(subject, json.dumps(stored).encode())
        await append(store, "b", [4], "b-1")
        last = await append(store, "b", [5], "b-2")
        assert await runner.wait_until({"LEDGER": last}, timeout=30)
    finally:
        await runner.stop()
    with engine.connect() as conn:
        # Each kept event applied once: a total counted twice, or an event skipped, differs.
        assert projection.rows(conn) == [("a", 3, 2), ("b", 9, 2)]
        refused = conn.execute(select(parked.c.seq, parked.c.error).order_by(parked.c.seq)).all()
    engine.dispose()
    assert [seq for seq, _ in refused] == [forged.seq, altered.seq]
    assert refused[0][1].startswith(UNDECODABLE)
    assert refused[1][1].startswith(ALTERED)
    assert judged_on  # every live event was judged...
    assert threading.main_thread().name not in judged_on  # ...never on the loop (main thread)
