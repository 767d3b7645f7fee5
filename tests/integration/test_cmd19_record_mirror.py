"""cmd19: a warm command whose id is new to this context's record does not wait for its
lookup: the record's keys are held in the process (`processed.RecordMirror`, a subscription
to the bucket's subjects plus a load of what it held). Idempotency as strong as before, on a
real JetStream, each case through the services' own entry point (`CommandService.handle`);
"two processes" are two services on two connections of their own (each its own cache,
mirror and subscriptions), so which one handles a command is the test's choice, not the
queue group's."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from itertools import count

import nats
import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from contracts_schema.replies import CommandAccepted, CommandRejected
from eventstore.aggregate_cache import AggregateCache
from eventstore.clock import FixedClock
from eventstore.commands import CommandService
from eventstore.processed import KeyValueProcessedCommands
from eventstore.serving import parse_reply
from eventstore.store import EventStore
from eventstore.testing.nats_server import NatsServer
from tests.support.ledger import EVENT_TYPES, LEDGER, ROUTES, RecordEntries

BOUND = 60.0  # seconds: bounds a hang, not a speed
LOOKUPS = "$JS.API.DIRECT.GET.KV_processed-commands-ledger"
_warm = count(1)


@pytest.fixture
async def connect(
    nats_server: NatsServer, fixed_clock: FixedClock
) -> AsyncIterator[Callable[..., object]]:
    opened: list[NATS] = []

    async def open_one(**options: object) -> NATS:
        nc = await nats.connect(
            nats_server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.1, **options
        )
        opened.append(nc)
        return nc

    # One caller's connection per test, for every service's commands.
    _client_of[id(fixed_clock)] = await open_one()
    yield open_one
    for nc in opened:
        await nc.close()


async def service_on(
    nc: NATS, clock: FixedClock, cache: AggregateCache | None = None
) -> CommandService:
    service = CommandService(LEDGER, EventStore(nc, clock), clock, ROUTES, EVENT_TYPES, cache=cache)
    await service.start()
    client = _client_of.get(id(clock))
    assert client is not None
    await serve(service, nc, client)
    return service


_client_of: dict[int, NATS] = {}


_served: dict[int, str] = {}
_names = count(1)


async def handle(
    service: CommandService, command: RecordEntries
) -> CommandAccepted | CommandRejected:
    """The command sent to this service over NATS and its reply read, as a caller reads it:
    on a subject only this service takes (so the test, not a queue group, picks the
    process), taken by the service on its own connection, answered there after its record
    (what `CommandServer` does with `handle`'s reply)."""
    subject = _served[id(service)]
    request = {"command_type": "RecordEntries", "command": command.model_dump(mode="json")}
    client = _clients[subject]
    msg = await client.request(subject, json.dumps(request).encode(), timeout=BOUND)
    return parse_reply(msg.data)


_clients: dict[str, NATS] = {}


async def serve(service: CommandService, nc: NATS, client: NATS) -> None:
    subject = f"test.cmd19.{next(_names)}"

    async def taken(msg: Msg) -> None:
        data = await service.handle(LEDGER.command_subject("RecordEntries"), msg.data)
        await nc.publish(msg.reply, data)

    await nc.subscribe(subject, cb=taken)
    await nc.flush()
    await nc.flush()
    _served[id(service)] = subject
    _clients[subject] = client


async def warmed(service: CommandService) -> CommandService:
    """The service after one command of its own (its write seen by its mirror) and, where
    it keeps a mirror, once the mirror is trusted (on code without one: at once)."""
    n = next(_warm)
    reply = await handle(
        service, RecordEntries(command_id=f"warm-{n}", ledger_id=f"warm-{n}", amounts=[1])
    )
    assert isinstance(reply, CommandAccepted)
    mirror = getattr(service, "_mirror", None)
    if mirror is not None:
        loop = asyncio.get_running_loop()
        until = loop.time() + BOUND
        while not mirror.trusted():
            assert loop.time() < until, "the mirror was never trusted"
            await asyncio.sleep(0.05)
    return service


async def amounts(nc: NATS, clock: FixedClock, ledger_id: str) -> list[int]:
    loaded = await EventStore(nc, clock).load(LEDGER, "ledger", ledger_id)
    return [e.envelope.payload["amount"] for e in loaded.events]


async def lookups_counted(nc: NATS) -> list[Msg]:
    seen: list[Msg] = []

    async def counted(msg: Msg) -> None:
        seen.append(msg)

    await nc.subscribe(LOOKUPS, cb=counted)
    await nc.subscribe(LOOKUPS + ".>", cb=counted)
    await nc.flush()
    return seen


async def settled(*connections: NATS) -> None:
    for nc in connections:  # what each sent has reached the server and come back
        await nc.flush()
        await nc.flush()
    await asyncio.sleep(0.05)


async def test_a_warm_command_with_a_new_id_asks_no_lookup_of_its_own_record(
    connect: Callable[..., object], fixed_clock: FixedClock
) -> None:
    nc = await connect()  # type: ignore[misc]
    spy = await connect()  # type: ignore[misc]
    service = await warmed(await service_on(nc, fixed_clock))
    assert isinstance(
        await handle(service, RecordEntries(command_id="a-1", ledger_id="la", amounts=[1])),
        CommandAccepted,
    )  # the aggregate is cached now
    seen = await lookups_counted(spy)
    for n in range(2, 7):
        reply = await handle(
            service, RecordEntries(command_id=f"a-{n}", ledger_id="la", amounts=[n])
        )
        assert isinstance(reply, CommandAccepted)
        assert reply.duplicate is False
    await settled(nc, spy)
    assert seen == []
    # A retry is still looked up (its id is held) and answered from the record.
    again = await handle(service, RecordEntries(command_id="a-3", ledger_id="la", amounts=[3]))
    await settled(nc, spy)
    assert isinstance(again, CommandAccepted)
    assert again.duplicate is True
    assert len(seen) >= 1
    assert await amounts(nc, fixed_clock, "la") == [1, 2, 3, 4, 5, 6]


async def test_an_id_another_process_used_on_another_aggregate_is_refused(
    connect: Callable[..., object], fixed_clock: FixedClock
) -> None:
    one = await warmed(await service_on(await connect(), fixed_clock))  # type: ignore[misc]
    two_nc = await connect()  # type: ignore[misc]
    two = await warmed(await service_on(two_nc, fixed_clock))
    # Both aggregates cached in the second process, so its command on "rb" is warm.
    for ledger in ("ra", "rb"):
        n = next(_warm)
        assert isinstance(
            await handle(two, RecordEntries(command_id=f"r-{n}", ledger_id=ledger, amounts=[9])),
            CommandAccepted,
        )
    for n in range(20):  # each right after the other's reply, as a caller would send it
        first = await handle(one, RecordEntries(command_id=f"x-{n}", ledger_id="ra", amounts=[1]))
        assert isinstance(first, CommandAccepted)
        reused = await handle(two, RecordEntries(command_id=f"x-{n}", ledger_id="rb", amounts=[1]))
        assert isinstance(reused, CommandRejected), n
        assert reused.code == "COMMAND_ID_REUSED"
    assert await amounts(two_nc, fixed_clock, "rb") == [9]


async def test_a_retry_another_process_answered_is_a_duplicate_with_its_reply(
    connect: Callable[..., object], fixed_clock: FixedClock
) -> None:
    one = await warmed(await service_on(await connect(), fixed_clock))  # type: ignore[misc]
    two_nc = await connect()  # type: ignore[misc]
    two = await warmed(await service_on(two_nc, fixed_clock))
    seed = RecordEntries(command_id="d-0", ledger_id="da", amounts=[5])
    assert isinstance(await handle(two, seed), CommandAccepted)  # "da" cached in two
    for n in range(1, 11):
        command = RecordEntries(command_id=f"d-{n}", ledger_id="da", amounts=[n])
        first = await handle(one, command)
        retry = await handle(two, command)  # two's cache is behind: it does not know d-n
        assert isinstance(first, CommandAccepted)
        assert isinstance(retry, CommandAccepted)
        assert retry.duplicate is True
        assert retry.events == first.events
        assert retry.consistency_token == first.consistency_token
    assert await amounts(two_nc, fixed_clock, "da") == [5, *range(1, 11)]


async def test_a_retry_with_another_body_is_refused_by_the_record_in_either_process(
    connect: Callable[..., object], fixed_clock: FixedClock
) -> None:
    one = await warmed(await service_on(await connect(), fixed_clock))  # type: ignore[misc]
    two_nc = await connect()  # type: ignore[misc]
    two = await warmed(await service_on(two_nc, fixed_clock))
    assert isinstance(
        await handle(two, RecordEntries(command_id="f-0", ledger_id="fa", amounts=[1])),
        CommandAccepted,
    )
    first = await handle(one, RecordEntries(command_id="f-1", ledger_id="fa", amounts=[2]))
    assert isinstance(first, CommandAccepted)
    # The same id and aggregate, another body that decides the same events (its valid time
    # stated, the first one's left to the clock): only the record's fingerprint tells them
    # apart (`retried.differs` finds the same events on the same day).
    for service in (two, one):
        other = await handle(
            service,
            RecordEntries(
                command_id="f-1", ledger_id="fa", amounts=[2], occurred_at=fixed_clock.now()
            ),
        )
        assert isinstance(other, CommandRejected)
        assert other.code == "COMMAND_ID_REUSED"
    assert await amounts(two_nc, fixed_clock, "fa") == [1, 2]


async def test_a_refused_command_retried_is_decided_again(
    connect: Callable[..., object], fixed_clock: FixedClock
) -> None:
    one = await warmed(await service_on(await connect(), fixed_clock))  # type: ignore[misc]
    two_nc = await connect()  # type: ignore[misc]
    two = await warmed(await service_on(two_nc, fixed_clock))
    assert isinstance(
        await handle(two, RecordEntries(command_id="z-0", ledger_id="za", amounts=[1])),
        CommandAccepted,
    )
    refused = await handle(one, RecordEntries(command_id="z-1", ledger_id="za", amounts=[0]))
    assert isinstance(refused, CommandRejected)
    assert refused.code == "ZERO_ENTRY"
    again = await handle(two, RecordEntries(command_id="z-1", ledger_id="za", amounts=[0]))
    assert isinstance(again, CommandRejected)
    assert again.code == "ZERO_ENTRY"
    # Refusals are not recorded: the id is still free for the command it names.
    fixed = await handle(two, RecordEntries(command_id="z-1", ledger_id="za", amounts=[3]))
    assert isinstance(fixed, CommandAccepted)
    assert fixed.duplicate is False
    assert await amounts(two_nc, fixed_clock, "za") == [1, 3]


async def test_a_retry_of_a_command_evicted_from_the_cache_is_a_duplicate(
    connect: Callable[..., object], fixed_clock: FixedClock
) -> None:
    nc = await connect()  # type: ignore[misc]
    service = await warmed(await service_on(nc, fixed_clock, AggregateCache(max_aggregates=1)))
    command = RecordEntries(command_id="e-1", ledger_id="ea", amounts=[7])
    first = await handle(service, command)
    assert isinstance(
        await handle(service, RecordEntries(command_id="e-2", ledger_id="eb", amounts=[8])),
        CommandAccepted,
    )  # "ea" evicted
    again = await handle(service, command)
    assert isinstance(first, CommandAccepted)
    assert isinstance(again, CommandAccepted)
    assert again.duplicate is True
    assert again.events == first.events
    assert await amounts(nc, fixed_clock, "ea") == [7]


async def test_an_id_used_beyond_the_duplicate_window_is_still_refused_elsewhere(
    connect: Callable[..., object], fixed_clock: FixedClock
) -> None:
    nc = await connect()  # type: ignore[misc]
    service = await warmed(await service_on(nc, fixed_clock))
    assert isinstance(
        await handle(service, RecordEntries(command_id="o-0", ledger_id="ob", amounts=[1])),
        CommandAccepted,
    )  # "ob" cached
    first = await handle(service, RecordEntries(command_id="o-1", ledger_id="oa", amounts=[1]))
    assert isinstance(first, CommandAccepted)
    js = nc.jetstream()
    stream = await js.stream_info(LEDGER.stream)
    stream.config.duplicate_window = 0.1  # the broker's Msg-Id window over
    await js.update_stream(stream.config)
    await asyncio.sleep(0.3)
    reused = await handle(service, RecordEntries(command_id="o-1", ledger_id="ob", amounts=[1]))
    retried = await handle(service, RecordEntries(command_id="o-1", ledger_id="oa", amounts=[1]))
    assert isinstance(reused, CommandRejected)
    assert reused.code == "COMMAND_ID_REUSED"
    assert isinstance(retried, CommandAccepted)
    assert retried.duplicate is True
    assert await amounts(nc, fixed_clock, "ob") == [1]
    assert await amounts(nc, fixed_clock, "oa") == [1]


async def test_a_pre_uniqueness_key_written_while_serving_is_found_at_once(
    connect: Callable[..., object], fixed_clock: FixedClock
) -> None:
    # An older process writes `ledger.<id>` while this one serves: it is refused on the
    # next command, not only after `LegacyKeys`' recheck (5 s: before, a reuse within
    # those seconds appended).
    nc = await connect()  # type: ignore[misc]
    service = await warmed(await service_on(nc, fixed_clock))
    assert isinstance(
        await handle(service, RecordEntries(command_id="p-0", ledger_id="pa", amounts=[1])),
        CommandAccepted,
    )
    older = await KeyValueProcessedCommands.open(await connect(), LEDGER)  # type: ignore[misc]
    legacy = {"fingerprint": "0" * 64, "reply": {"command_id": "p-old", "events": []}}
    await older.put("ledger.p-old", json.dumps(legacy).encode())
    reply = await handle(service, RecordEntries(command_id="p-old", ledger_id="pa", amounts=[2]))
    assert isinstance(reply, CommandRejected)
    assert reply.code == "COMMAND_ID_REUSED"
    assert await amounts(nc, fixed_clock, "pa") == [1]


async def test_records_written_before_a_process_started_are_held_by_it(
    connect: Callable[..., object], fixed_clock: FixedClock
) -> None:
    one = await warmed(await service_on(await connect(), fixed_clock))  # type: ignore[misc]
    for n in range(30):
        assert isinstance(
            await handle(one, RecordEntries(command_id=f"s-{n}", ledger_id="sa", amounts=[1])),
            CommandAccepted,
        )
    late_nc = await connect()  # type: ignore[misc]
    late = await warmed(await service_on(late_nc, fixed_clock))
    assert isinstance(
        await handle(late, RecordEntries(command_id="s-x", ledger_id="sb", amounts=[2])),
        CommandAccepted,
    )  # "sb" cached
    for n in range(30):
        reply = await handle(late, RecordEntries(command_id=f"s-{n}", ledger_id="sb", amounts=[1]))
        assert isinstance(reply, CommandRejected), n
        assert reply.code == "COMMAND_ID_REUSED"
    assert await amounts(late_nc, fixed_clock, "sb") == [2]


async def test_a_subscription_that_does_not_deliver_is_never_trusted(
    connect: Callable[..., object], fixed_clock: FixedClock
) -> None:
    # Without echo the connection never receives its own writes: the check of the first
    # new key written finds it missing, and every id is looked up as before.
    nc = await connect(no_echo=True)  # type: ignore[misc]
    spy = await connect()  # type: ignore[misc]
    service = await service_on(nc, fixed_clock)
    for n in range(3):
        assert isinstance(
            await handle(service, RecordEntries(command_id=f"n-{n}", ledger_id="na", amounts=[1])),
            CommandAccepted,
        )
    await asyncio.sleep(0.5)  # past the settle: were it trusted, it would be by now
    await settled(nc)
    mirror = getattr(service, "_mirror", None)
    assert mirror is not None
    assert mirror.trusted() is False
    seen = await lookups_counted(spy)
    reply = await handle(service, RecordEntries(command_id="n-9", ledger_id="na", amounts=[1]))
    await settled(nc, spy)
    assert isinstance(reply, CommandAccepted)
    assert len(seen) >= 1
