"""A command cancelled once its processed-command record is queued on the connection (its
caller gone, a service stopping) still has that write waited for by `CommandService.drain`:
drain returns only when the record's acknowledgement came (or its timeout passed), so a stop
does not close the connection under it. On a real NATS server with JetStream.

nats-py's own `publish` does not give up its step after queueing a message; the client below
does, once (as a client that flushes in the publishing task would): that is the window."""

from __future__ import annotations

import asyncio

from nats.aio.client import Client as NATS

from contracts_schema.replies import CommandAccepted
from eventstore.clock import FixedClock
from eventstore.commands import CommandService
from eventstore.processed import KeyValueProcessedCommands
from eventstore.records import CommandMetadata
from eventstore.store import EventStore
from eventstore.testing.fixtures import connect
from eventstore.testing.nats_server import NatsServer
from tests.support.ledger import EVENT_TYPES, LEDGER, ROUTES, RecordEntries


class YieldingAfterQueueing(NATS):
    """Gives up its step once after queueing a processed-command record (`$KV.` subject)."""

    def __init__(self) -> None:
        super().__init__()
        self.record_queued = asyncio.Event()

    async def publish(
        self,
        subject: str,
        payload: bytes = b"",
        reply: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        await super().publish(subject, payload, reply, headers)
        if subject.startswith("$KV."):
            self.record_queued.set()
            await asyncio.sleep(0)


async def test_a_record_queued_by_a_cancelled_command_is_waited_for_by_drain(
    nats_server: NatsServer, fixed_clock: FixedClock
) -> None:
    nc = YieldingAfterQueueing()
    await nc.connect(nats_server.url, connect_timeout=2)
    try:
        records = await KeyValueProcessedCommands.open(nc, LEDGER)
        svc = CommandService(
            LEDGER, EventStore(nc, fixed_clock), fixed_clock, ROUTES, EVENT_TYPES, processed=records
        )
        await svc.start()
        route = svc._routes["RecordEntries"]

        first = RecordEntries(command_id="c-0", ledger_id="l", amounts=[1])
        assert isinstance(
            await svc.execute(route, first, CommandMetadata("c-0", "t", "c-0")), CommandAccepted
        )
        await svc.drain()
        settled = records.settled  # the first write (and the inbox it answers on)

        nc.record_queued.clear()
        command = RecordEntries(command_id="c-1", ledger_id="l", amounts=[2])
        meta = CommandMetadata("c-1", "t", "c-1")
        running = asyncio.ensure_future(svc.execute(route, command, meta))
        await nc.record_queued.wait()  # appended, its record queued on the connection
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        assert running.cancelled()

        await svc.drain()
        assert records.settled == settled + 1  # its acknowledgement came before drain ended

        reader = await connect(nats_server.url)
        try:
            stored = await KeyValueProcessedCommands.open(reader, LEDGER)
            assert await stored.get("c-1") is not None  # nothing lost: the record landed
        finally:
            await reader.close()
        again = await svc.execute(route, command, meta)
        assert isinstance(again, CommandAccepted)
        assert again.duplicate
    finally:
        await nc.close()
