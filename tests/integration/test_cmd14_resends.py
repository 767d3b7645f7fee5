"""Resends that idempotency must answer as the first send, on a real JetStream (cmd14: the
cases any change to where the processed-command record lives must keep):

- a crash between the append and the record's write (the events stored, no record): the
  resend is answered from the events, by a process whose cache is stale and by a fresh one,
  and the record is repaired, so the id stays taken on every other aggregate;
- a refused command sent again: refused again, nothing stored;
- the same command at both processes of a queue group at once, and again at the other
  process: stored once, exactly one first answer.

Two `CommandService`s on one broker are the two processes of a queue group (each its own
cache, pending records and record writes); the command is handed to each as its
subscription hands it (`handle`), so which one answers is chosen, not left to the broker.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from nats.aio.client import Client as NATS

from contracts_schema.replies import CommandAccepted, CommandRejected
from eventstore.clock import FixedClock
from eventstore.commands import CommandService, DecisionContext
from eventstore.processed import processed_bucket
from eventstore.records import CommandMetadata, NewEvent
from eventstore.serving import parse_reply
from eventstore.store import EventStore
from tests.support.ledger import EVENT_TYPES, LEDGER, ROUTES, Ledger, RecordEntries, decide

SUBJECT = LEDGER.command_subject("RecordEntries")
Group = tuple[CommandService, CommandService]


async def _service(nc: NATS, clock: FixedClock) -> CommandService:
    service = CommandService(LEDGER, EventStore(nc, clock), clock, ROUTES, EVENT_TYPES)
    await service.start()
    return service


@pytest.fixture
async def queue_group(nats_client: NATS, fixed_clock: FixedClock) -> Group:
    """The two processes of a queue group on the test's broker, each started."""
    return await _service(nats_client, fixed_clock), await _service(nats_client, fixed_clock)


async def _send(
    service: CommandService, command: RecordEntries
) -> CommandAccepted | CommandRejected:
    request = {"command_type": "RecordEntries", "command": command.model_dump(mode="json"),
               "actor": "t"}  # fmt: skip
    return parse_reply(await service.handle(SUBJECT, json.dumps(request).encode()))


async def _amounts(nc: NATS, clock: FixedClock, ledger_id: str) -> list[int]:
    loaded = await EventStore(nc, clock).load(LEDGER, "ledger", ledger_id)
    return [e.envelope.payload["amount"] for e in loaded.events]


async def _record(nc: NATS, command_id: str) -> bytes | None:
    kv = await nc.jetstream().key_value(processed_bucket(LEDGER))
    try:
        entry = await kv.get(command_id)
    except Exception:  # KeyNotFoundError, or a deleted key's marker
        return None
    return entry.value or None


async def _lose_record(nc: NATS, command_id: str) -> None:
    kv = await nc.jetstream().key_value(processed_bucket(LEDGER))
    await kv.purge(command_id)
    assert await _record(nc, command_id) is None


async def test_a_resend_after_a_crash_between_append_and_record(
    nats_client: NATS, fixed_clock: FixedClock, queue_group: Group
) -> None:
    first, second = queue_group
    warm = await _send(first, RecordEntries(command_id="c-warm", ledger_id="l-crash", amounts=[1]))
    assert isinstance(warm, CommandAccepted)  # `first` holds l-crash at version 1 in its cache
    # A process appended c-crash's events exactly as its decision gave them, then died before
    # it wrote the processed-command record (or its reply).
    command = RecordEntries(command_id="c-crash", ledger_id="l-crash", amounts=[5, 6])
    store = EventStore(nats_client, fixed_clock)
    history = await store.load(LEDGER, "ledger", "l-crash")
    now = fixed_clock.now()
    decided = decide(Ledger(1, 1), command, DecisionContext(now=now, valid_at=now))
    new = [
        NewEvent(e.event_type, e.schema_version, e.model_dump(mode="json"), now) for e in decided
    ]
    meta = CommandMetadata(command_id="c-crash", actor="t", correlation_id="c-crash")
    stored = await store.append(history, new, meta)
    assert await _record(nats_client, "c-crash") is None

    # Resent to the process whose cache is stale (it never saw c-crash): not decided again.
    again = await _send(first, command)
    assert isinstance(again, CommandAccepted)
    assert again.duplicate is True
    assert [(e.seq, e.aggregate_version) for e in again.events] == [
        (e.seq, e.envelope.aggregate_version) for e in stored
    ]
    assert await _amounts(nats_client, fixed_clock, "l-crash") == [1, 5, 6]
    await first.drain()
    assert await _record(nats_client, "c-crash") is not None  # repaired by the resend

    # Lost again; resent to a process that holds nothing of l-crash: the same answer.
    await _lose_record(nats_client, "c-crash")
    fresh = await _send(second, command)
    assert isinstance(fresh, CommandAccepted)
    assert fresh.duplicate is True
    assert fresh.events == again.events
    await second.drain()
    assert await _record(nats_client, "c-crash") is not None

    # The repaired record keeps the id taken on every other aggregate, at either process.
    for service in (first, second):
        reused = await _send(
            service, RecordEntries(command_id="c-crash", ledger_id="l-else", amounts=[7])
        )
        assert isinstance(reused, CommandRejected)
        assert reused.code == "COMMAND_ID_REUSED"
    assert await _amounts(nats_client, fixed_clock, "l-else") == []
    assert await _amounts(nats_client, fixed_clock, "l-crash") == [1, 5, 6]


async def test_a_refused_command_sent_again_is_refused_again_and_stores_nothing(
    nats_client: NATS, fixed_clock: FixedClock, queue_group: Group
) -> None:
    first, second = queue_group
    accepted = await _send(first, RecordEntries(command_id="c-ok", ledger_id="l-ref", amounts=[2]))
    assert isinstance(accepted, CommandAccepted)
    refused = RecordEntries(command_id="c-zero", ledger_id="l-ref", amounts=[3, 0])
    replies = [await _send(s, refused) for s in (first, first, second)]
    for reply in replies:
        assert isinstance(reply, CommandRejected)
        assert (reply.command_id, reply.code) == ("c-zero", "ZERO_ENTRY")
        assert reply.message == "a ledger entry of zero is meaningless"
    assert await _amounts(nats_client, fixed_clock, "l-ref") == [2]
    # The aggregate's events still answer the accepted one as before.
    for service in (first, second):
        duplicate = await _send(
            service, RecordEntries(command_id="c-ok", ledger_id="l-ref", amounts=[2])
        )
        assert isinstance(duplicate, CommandAccepted)
        assert duplicate.duplicate is True
        assert duplicate.events == accepted.events


async def test_the_same_command_at_both_processes_of_a_queue_group(
    nats_client: NATS, fixed_clock: FixedClock, queue_group: Group
) -> None:
    first, second = queue_group
    for service, warm in ((first, "c-w1"), (second, "c-w2")):  # both caches hold l-q
        reply = await _send(service, RecordEntries(command_id=warm, ledger_id="l-q", amounts=[1]))
        assert isinstance(reply, CommandAccepted)
    # The client's resend (its first reply late) reaches the other process while the first
    # is still at work: both decide on their own cache, one append lands.
    command = RecordEntries(command_id="c-both", ledger_id="l-q", amounts=[4, 5])
    both = await asyncio.gather(_send(first, command), _send(second, command))
    assert all(isinstance(r, CommandAccepted) for r in both)
    accepted = [r for r in both if isinstance(r, CommandAccepted)]
    assert sorted(r.duplicate for r in accepted) == [False, True]  # one first answer
    assert accepted[0].events == accepted[1].events
    assert await _amounts(nats_client, fixed_clock, "l-q") == [1, 1, 4, 5]
    await first.drain()
    await second.drain()
    # Sent again to each process later, the record lost or not: a duplicate, nothing added.
    for lose in (False, True):
        if lose:
            await _lose_record(nats_client, "c-both")
        for service in (second, first):
            again = await _send(service, command)
            assert isinstance(again, CommandAccepted)
            assert again.duplicate is True
            assert again.events == accepted[0].events
    assert await _amounts(nats_client, fixed_clock, "l-q") == [1, 1, 4, 5]
