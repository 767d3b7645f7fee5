"""A processed-command record whose first write fails for a transient reason (a timeout) is
written again (`CommandService._retried`), and `drain` (a stopping service) waits for that
retry, not only for the first attempt: once it returns, the record is written and nothing
is left in the service's memory of records on their way. A guard (cmd21): it holds on the
code as it is, and fails where a retry is not among the writes `drain` waits for (the
leaner tracking cmd21 A/B'd and reverted got this right; a next try must too)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from contracts_schema.replies import CommandAccepted
from eventstore import commands
from eventstore.clock import FixedClock
from eventstore.commands import CommandService
from eventstore.memory import InMemoryEventStore, InMemoryProcessedCommands
from eventstore.records import CommandMetadata
from tests.support.ledger import EVENT_TYPES, LEDGER, ROUTES
from tests.support.ledger import RecordEntries as Record

CLOCK = FixedClock(datetime(2026, 1, 15, 12, tzinfo=UTC))


class TimingOutFirst(InMemoryProcessedCommands):
    """A record that publishes on the command's own step (as `processed.RecordWrites.send`)
    whose first attempt times out; a later `put` waits for `release`."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.puts = 0

    async def send(self, key: str, value: bytes, timeout: float) -> asyncio.Future[None]:
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        written.set_exception(TimeoutError("no acknowledgement"))
        return written

    async def put(self, key: str, value: bytes) -> None:
        await self.release.wait()
        self.puts += 1
        await super().put(key, value)


async def test_a_record_retried_after_a_timeout_is_waited_for_by_drain(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(commands, "TRANSIENT_PAUSE", 0.0)
    store = InMemoryEventStore(CLOCK)
    await store.ensure_stream(LEDGER)
    record = TimingOutFirst()
    svc = CommandService(LEDGER, store, CLOCK, ROUTES, EVENT_TYPES, processed=record)
    await svc.start()
    route = svc._routes["RecordEntries"]
    command = Record(command_id="c-1", ledger_id="l", amounts=[3])
    reply = await svc.execute(route, command, CommandMetadata("c-1", "t", "c-1"))
    assert isinstance(reply, CommandAccepted)
    draining = asyncio.ensure_future(svc.drain())
    for _ in range(20):  # (loop turns: the first attempt's failure taken, the retry started)
        await asyncio.sleep(0)
    assert not draining.done()  # the retry is under way: drain waits for it
    assert svc.is_pending("c-1")
    record.release.set()
    async with asyncio.timeout(30):
        await draining
    assert record.puts == 1
    assert await record.get("c-1") is not None
    assert not svc.is_pending("c-1")
