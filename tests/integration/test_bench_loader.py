"""The benchmark loader sends a commit again when its append times out: stored once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import nats.errors
import pytest
from nats.aio.client import Client as NATS

from bench.loader import _append
from eventstore.clock import FixedClock
from eventstore.store import CommandMetadata, EventStore, NewEvent, StoredEvent
from tests.support.ledger import LEDGER


class TimesOut(EventStore):
    """The real store whose first send times out: after JetStream stored it (the reply was
    lost) or before it got there (the request was lost)."""

    def __init__(self, nc: NATS, clock: FixedClock, *, stored: bool) -> None:
        super().__init__(nc, clock)
        self.stored = stored
        self.sends = 0

    async def append(self, *args: Any, **kwargs: Any) -> list[StoredEvent]:
        self.sends += 1
        if self.sends == 1 and not self.stored:
            raise nats.errors.TimeoutError
        events = await super().append(*args, **kwargs)
        if self.sends == 1:
            raise nats.errors.TimeoutError
        return events


@pytest.mark.parametrize("stored", [True, False], ids=["reply-lost", "request-lost"])
async def test_a_commit_that_timed_out_is_resent_and_stored_once(
    nats_client: NATS, fixed_clock: FixedClock, stored: bool
) -> None:
    store = TimesOut(nats_client, fixed_clock, stored=stored)
    await store.ensure_stream(LEDGER)
    head = await store.load(LEDGER, "ledger", "l1")
    on = datetime(2020, 1, 1, tzinfo=UTC)
    new = [NewEvent("EntryRecorded", 1, {"amount": a}, on) for a in (1, 2, 3)]
    appended = await _append(store, head, new, CommandMetadata("c1", "tester", "c1"))
    assert store.sends == 2
    after = await store.load(LEDGER, "ledger", "l1")
    assert [e.seq for e in after.events] == [e.seq for e in appended] == [1, 2, 3]
    assert [e.envelope.payload["amount"] for e in after.events] == [1, 2, 3]
