"""The appends of one loop turn go in one atomic batch (`eventstore.append_batches`), with the
outcome each would have had alone: commands on different aggregates, decided together, are
stored in one batch; a batch refused because one aggregate moved (another process wrote) or
because one command's events were stored before leaves each to append alone, and each meets
its own outcome. On a real NATS server with JetStream."""

from __future__ import annotations

import asyncio

import pytest
from nats.aio.client import Client as NATS

from contracts_schema.replies import CommandAccepted
from eventstore.append_batches import AppendBatches
from eventstore.clock import FixedClock
from eventstore.commands import CommandService
from eventstore.errors import AlreadyAppended
from eventstore.records import CommandMetadata, NewEvent
from eventstore.store import EventStore
from tests.support.ledger import EVENT_TYPES, LEDGER, ROUTES, RecordEntries


async def _service(nc: NATS, clock: FixedClock) -> CommandService:
    svc = CommandService(LEDGER, EventStore(nc, clock), clock, ROUTES, EVENT_TYPES)
    await svc.start()
    return svc


async def _amend(svc: CommandService, command_id: str, ledger: str, amount: int) -> object:
    command = RecordEntries(command_id=command_id, ledger_id=ledger, amounts=[amount])
    return await svc.execute(
        svc.route("RecordEntries"), command, CommandMetadata(command_id, "t", command_id)
    )


async def _versions(store: EventStore, ledger: str) -> list[tuple[int, int]]:
    history = await store.load(LEDGER, "ledger", ledger)
    return [(e.envelope.aggregate_version, e.envelope.payload["amount"]) for e in history.events]


async def test_commands_decided_together_are_stored_in_one_batch(
    nats_client: NATS, fixed_clock: FixedClock
) -> None:
    svc = await _service(nats_client, fixed_clock)
    ledgers = [f"l-{n}" for n in range(8)]
    for n, ledger in enumerate(ledgers):  # each cached, one event each
        assert isinstance(await _amend(svc, f"warm-{n}", ledger, 1), CommandAccepted)
    assert svc._batches is not None
    before = svc._batches.batches

    replies = await asyncio.gather(
        *(_amend(svc, f"c-{n}", ledger, 10 + n) for n, ledger in enumerate(ledgers))
    )

    assert all(isinstance(r, CommandAccepted) for r in replies), replies
    assert svc._batches.batches > before  # (one batch or more: not each alone)
    store = EventStore(nats_client, fixed_clock)
    for n, (ledger, reply) in enumerate(zip(ledgers, replies, strict=True)):
        assert await _versions(store, ledger) == [(1, 1), (2, 10 + n)]
        history = await store.load(LEDGER, "ledger", ledger)
        assert isinstance(reply, CommandAccepted)
        assert [e.seq for e in reply.events] == [history.events[-1].seq]
        assert reply.events[0].aggregate_version == 2
    await svc.drain()


async def test_a_batch_with_a_moved_aggregate_leaves_each_to_append_alone(
    nats_client: NATS, fixed_clock: FixedClock
) -> None:
    svc = await _service(nats_client, fixed_clock)
    other = await _service(nats_client, fixed_clock)  # another process
    for n, ledger in enumerate(("a", "b", "c")):
        assert isinstance(await _amend(svc, f"warm-{n}", ledger, 1), CommandAccepted)
    # `a` moves behind the first service's cache: a batch holding it is refused whole.
    assert isinstance(await _amend(other, "elsewhere", "a", 5), CommandAccepted)
    assert svc._batches is not None
    before = svc._batches.batches

    replies = await asyncio.gather(
        _amend(svc, "c-a", "a", 7), _amend(svc, "c-b", "b", 8), _amend(svc, "c-c", "c", 9)
    )

    assert all(isinstance(r, CommandAccepted) for r in replies), replies
    store = EventStore(nats_client, fixed_clock)
    assert await _versions(store, "a") == [(1, 1), (2, 5), (3, 7)]  # caught up, then stored
    assert await _versions(store, "b") == [(1, 1), (2, 8)]
    assert await _versions(store, "c") == [(1, 1), (2, 9)]
    assert svc._batches.refused == 1  # the batch holding `a`; then each alone
    assert svc._batches.batches <= before + 1  # (the retries alone, perhaps in one batch)
    await svc.drain()
    await other.drain()


async def test_a_member_stored_before_gets_already_appended_and_the_others_are_stored(
    nats_client: NATS, fixed_clock: FixedClock
) -> None:
    store = EventStore(nats_client, fixed_clock)
    await store.ensure_stream(LEDGER)
    new = [NewEvent("EntryRecorded", 1, {"amount": 3}, fixed_clock.now())]
    before_x = await store.load(LEDGER, "ledger", "x")
    meta_x = CommandMetadata("cmd-x", "t", "cmd-x")
    await store.append(before_x, new, meta_x)  # stored; its reply, say, lost
    # Resent on the head it left (a process that cached it): only its Msg-Id is stale.
    after_x = await store.load(LEDGER, "ledger", "x")
    batches = AppendBatches(store, lambda: True)
    before_y = await store.load(LEDGER, "ledger", "y")
    before_z = await store.load(LEDGER, "ledger", "z")

    resent, y, z = await asyncio.gather(
        batches.append(after_x, new, meta_x),  # the same command again
        batches.append(before_y, new, CommandMetadata("cmd-y", "t", "cmd-y")),
        batches.append(before_z, new, CommandMetadata("cmd-z", "t", "cmd-z")),
        return_exceptions=True,
    )

    assert isinstance(resent, AlreadyAppended)  # as its append alone answers it
    assert not isinstance(y, BaseException) and not isinstance(z, BaseException)
    assert [e.envelope.command_id for e in y] == ["cmd-y"]
    assert [e.envelope.command_id for e in z] == ["cmd-z"]
    assert await _versions(store, "x") == [(1, 3)]  # not twice
    assert await _versions(store, "y") == [(1, 3)]
    assert await _versions(store, "z") == [(1, 3)]
    assert y[0].seq == (await store.load(LEDGER, "ledger", "y")).last_seq


@pytest.mark.parametrize("busy", [False, True])
async def test_an_append_alone_or_in_a_turn_of_its_own_is_an_append(
    nats_client: NATS, fixed_clock: FixedClock, busy: bool
) -> None:
    store = EventStore(nats_client, fixed_clock)
    await store.ensure_stream(LEDGER)
    batches = AppendBatches(store, lambda: busy)
    history = await store.load(LEDGER, "ledger", "w")
    new = [NewEvent("EntryRecorded", 1, {"amount": n}, fixed_clock.now()) for n in (1, 2)]

    stored = await batches.append(history, new, CommandMetadata("cmd-w", "t", "cmd-w"))

    assert batches.batches == 0
    assert [e.envelope.aggregate_version for e in stored] == [1, 2]
    assert await _versions(store, "w") == [(1, 1), (2, 2)]
