"""A command cancelled while its processed-command record is being sent (its caller gone, a
service stopping) leaves nothing behind in the service's memory of records on their way: the
events are stored (the truth), a retry is still answered as a duplicate, by its events.
White-box in one place: what is left behind is read from the service's `_pending`, which no
public call shows until the process has leaked enough of it to matter."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from contracts_schema.replies import CommandAccepted
from eventstore.clock import FixedClock
from eventstore.commands import CommandService
from eventstore.memory import InMemoryEventStore, InMemoryProcessedCommands
from eventstore.records import CommandMetadata
from tests.support.ledger import EVENT_TYPES, LEDGER, ROUTES
from tests.support.ledger import RecordEntries as Record

CLOCK = FixedClock(datetime(2026, 1, 15, 12, tzinfo=UTC))


class HeldRecord(InMemoryProcessedCommands):
    """A record that publishes on the command's own step (as `processed.RecordWrites.send`),
    held until released: the window in which the command can be cancelled mid-send."""

    def __init__(self) -> None:
        super().__init__()
        self.sending = asyncio.Event()
        self.release = asyncio.Event()

    async def send(self, key: str, value: bytes, timeout: float) -> asyncio.Future[None]:
        self.sending.set()
        await self.release.wait()
        await self.put(key, value)
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        written.set_result(None)
        return written


async def test_a_command_cancelled_while_its_record_is_sent_leaves_no_pending_record() -> None:
    store = InMemoryEventStore(CLOCK)
    await store.ensure_stream(LEDGER)
    record = HeldRecord()
    svc = CommandService(LEDGER, store, CLOCK, ROUTES, EVENT_TYPES, processed=record)
    await svc.start()
    route = svc._routes["RecordEntries"]
    command = Record(command_id="c-1", ledger_id="l", amounts=[3])
    meta = CommandMetadata("c-1", "t", "c-1")

    running = asyncio.ensure_future(svc.execute(route, command, meta))
    await record.sending.wait()  # appended; its record on the way
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    assert running.cancelled()
    assert svc._pending == {}  # (was left there for the life of the process)

    record.release.set()
    again = await svc.execute(route, command, meta)  # the retry: known by its events
    assert isinstance(again, CommandAccepted)
    assert again.duplicate
    history = await store.load(LEDGER, "ledger", "l")
    assert [e.envelope.command_id for e in history.events] == ["c-1"]
