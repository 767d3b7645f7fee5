"""A service process takes each command as its connection reads it (cmd18): the command
subscriptions (the unpartitioned queue group and every partition this process owns) hand a
message to the `CommandServer` inside nats-py's parse (`inbox.Sink`), which starts the
command's task there, instead of nats-py putting it on a per-subscription queue for a task of
the subscription to take a loop turn later. At most `max_workers` commands run at once; the
others wait in arrival order and are all answered, also when the server stops meanwhile. On a
real JetStream server, through `send_command`."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from nats.aio.client import Client as NATS

from contracts_schema.replies import CommandAccepted
from eventstore import service_app
from eventstore.clock import FixedClock
from eventstore.commands import CommandRoute, CommandService
from eventstore.service_app import serve_in_process
from eventstore.serving import send_command
from eventstore.store import EventStore
from eventstore.testing.fixtures import connect
from eventstore.testing.nats_server import NatsServer
from tests.support.ledger import DECIDER, EVENT_TYPES, LEDGER, ROUTES, RecordEntries, decide

BOUND = 600  # 0.05 s steps: a bound on a hang, not a speed


async def _until(condition: Any, what: str) -> None:
    for _ in range(BOUND):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never: {what}")


async def test_the_command_subscriptions_have_no_queue_and_task_of_their_own(
    nats_server: NatsServer, nats_client: NATS, fixed_clock: FixedClock
) -> None:
    nc = await connect(nats_server.url)
    service = CommandService(LEDGER, EventStore(nc, fixed_clock), fixed_clock, ROUTES, EVENT_TYPES)
    server = await serve_in_process(nc, [service])
    try:
        replies = [
            await send_command(
                nats_client,
                LEDGER,
                RecordEntries(command_id=f"c-{i}", ledger_id=f"l-{i}", amounts=[i + 1]),
            )
            for i in range(4)
        ]
        assert all(isinstance(r, CommandAccepted) and not r.duplicate for r in replies)
        commands = [
            sub for sub in nc._subs.values() if sub.subject.startswith(f"{LEDGER.name}.commands.")
        ]
        assert len(commands) == 17  # the queue group's and the 16 partitions (alone: all)
        # Before cmd18: each had nats-py's task taking its messages off its queue.
        assert [s for s in commands if s._wait_for_msgs_task is not None] == []
        assert all(s._pending_queue.qsize() == 0 for s in commands)
    finally:
        await server.stop()
        await nc.close()


async def test_beyond_max_workers_commands_wait_and_all_are_answered_across_a_stop(
    nats_server: NatsServer, nats_client: NATS, fixed_clock: FixedClock
) -> None:
    release = asyncio.Event()
    running = [0]
    most = [0]
    started: list[str] = []

    async def held(command: RecordEntries) -> None:  # the route's facts: read before deciding
        running[0] += 1
        most[0] = max(most[0], running[0])
        started.append(command.ledger_id)
        try:
            await release.wait()
        finally:
            running[0] -= 1

    route = CommandRoute(RecordEntries, DECIDER, lambda c: c.ledger_id, decide, facts=held)
    nc = await connect(nats_server.url)
    service = CommandService(LEDGER, EventStore(nc, fixed_clock), fixed_clock, [route], EVENT_TYPES)
    server = await serve_in_process(nc, [service], max_workers=2)
    stopping: asyncio.Task[None] | None = None
    sends = [
        asyncio.ensure_future(
            send_command(
                nats_client,
                LEDGER,
                RecordEntries(command_id=f"w-{i}", ledger_id=f"w-{i}", amounts=[i + 1]),
                timeout=120,
            )
        )
        for i in range(8)
    ]
    try:
        await _until(lambda: len(started) == 2 and server.waiting == 6, "2 running, 6 waiting")
        stopping = asyncio.ensure_future(server.stop())
        await asyncio.sleep(0)
        assert len(started) == 2
        assert server.waiting == 6
        release.set()
        replies = await asyncio.wait_for(asyncio.gather(*sends), timeout=120)
        await asyncio.wait_for(stopping, timeout=120)
    finally:
        release.set()
        if stopping is None:
            await server.stop()
        for send in sends:
            send.cancel()
        await nc.close()
    assert [r.status for r in replies] == ["accepted"] * 8
    assert sorted(started) == sorted(f"w-{i}" for i in range(8))
    assert most[0] == 2


async def test_waiting_commands_start_in_arrival_order_and_beyond_the_byte_limit_are_dropped(
    nats_server: NatsServer,
    nats_client: NATS,
    fixed_clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One slot: the first command runs (held), the next wait in arrival order, and a command
    that would take the waiting bodies past the byte limit is dropped and logged (as nats-py
    dropped a slow consumer's messages beyond 128 MiB; review18b: the list had a count limit
    only). Fails before: nothing was dropped (no byte limit)."""
    release = asyncio.Event()
    started: list[str] = []

    async def held(command: RecordEntries) -> None:
        started.append(command.ledger_id)
        await release.wait()

    route = CommandRoute(RecordEntries, DECIDER, lambda c: c.ledger_id, decide, facts=held)
    nc = await connect(nats_server.url)
    service = CommandService(LEDGER, EventStore(nc, fixed_clock), fixed_clock, [route], EVENT_TYPES)
    server = await serve_in_process(nc, [service], max_workers=1)

    def command(i: int) -> RecordEntries:  # b-3, b-4: bodies of over 1,000 bytes each
        amounts = [i + 1] * (1 if i < 3 else 300)
        return RecordEntries(command_id=f"b-{i}", ledger_id=f"b-{i}", amounts=amounts)

    # Room for b-1 and b-2 (~200 bytes each), not for either large one after them.
    monkeypatch.setattr(service_app, "WAITING_BYTES_LIMIT", 1000)
    sends: list[asyncio.Future[Any]] = []
    try:
        sends.append(asyncio.ensure_future(send_command(nats_client, LEDGER, command(0))))
        await _until(lambda: started == ["b-0"], "b-0 running")
        with caplog.at_level(logging.ERROR, logger="eventstore.service_app"):
            for i in range(1, 5):  # one after another: arrival order is this order
                sends.append(
                    asyncio.ensure_future(
                        send_command(nats_client, LEDGER, command(i), timeout=120)
                    )
                )
                await nats_client.flush()
                want = min(i, 2)
                await _until(lambda want=want: server.waiting == want, f"{want} waiting")
            await _until(lambda: sum("dropped" in r.message for r in caplog.records) == 2, "drops")
        release.set()
        replies = await asyncio.wait_for(asyncio.gather(*sends[:3]), timeout=120)
    finally:
        release.set()
        await server.stop()
        for send in sends:
            send.cancel()
        await nc.close()
    assert [r.status for r in replies] == ["accepted"] * 3
    assert started == ["b-0", "b-1", "b-2"]
    dropped = [r.message for r in caplog.records if "dropped" in r.message]
    assert len(dropped) == 2
    assert all("RecordEntries" in m for m in dropped), dropped
