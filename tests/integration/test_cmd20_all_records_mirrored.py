"""cmd20: in a running system (every context's processed-command bucket present) a warm
command with a new id waits for no lookup at all: the keys of every bucket a command asks
are held in the process (`processed.RecordMirror`, this context's and the others'), each
loaded after a barrier the stream refuses, so that no record stored at any time after the
start is missed. Real JetStream; commands over NATS to the service's own connection, as in
cmd19's tests (whose helpers these use)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from itertools import count
from typing import Any

import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from contracts_schema.replies import CommandAccepted, CommandRejected
from contracts_schema.subjects import ENROLMENT, NOTIFIER, REGISTRY, BoundedContext
from eventstore import processed
from eventstore.clock import FixedClock
from eventstore.commands import CommandService
from eventstore.processed import KeyValueProcessedCommands, processed_bucket
from tests.integration.test_cmd19_record_mirror import (
    BOUND,
    amounts,
    connect,
    handle,
    service_on,
    settled,
)
from tests.support.ledger import RecordEntries

__all__ = ["connect"]  # (the fixture, taken from cmd19's tests)

_ids = count(1)


def record_of(context: BoundedContext, command_id: str) -> bytes:
    """A record as that context's service writes it (`group_commit.Held.record`'s form)."""
    reply = {"command_id": command_id, "events": [], "consistency_token": "x"}
    head = {"context": context.name, "command_type": "Other", "fingerprint": "0" * 64}
    return json.dumps({**head, "reply": reply}).encode()


def mirrors(service: CommandService) -> list[Any]:
    """The mirrors the service keeps (on code that keeps none of a bucket: not waited for)."""
    held = [service._mirror, *(getattr(o, "mirror", None) for o in service._elsewhere)]
    return [m for m in held if m is not None]


async def all_trusted(service: CommandService) -> CommandService:
    loop = asyncio.get_running_loop()
    until = loop.time() + BOUND
    while not all(m.trusted() for m in mirrors(service)):
        assert loop.time() < until, "the mirrors were never all trusted"
        await asyncio.sleep(0.05)
    return service


async def warm_on(service: CommandService, ledger: str) -> None:
    n = next(_ids)
    reply = await handle(
        service, RecordEntries(command_id=f"warm-{n}", ledger_id=ledger, amounts=[1])
    )
    assert isinstance(reply, CommandAccepted)


async def direct_gets(nc: NATS) -> list[str]:
    """Every Direct Get any connection sends (subjects), from now on."""
    seen: list[str] = []

    async def counted(msg: Msg) -> None:
        seen.append(msg.subject)

    await nc.subscribe("$JS.API.DIRECT.GET.>", cb=counted)
    await nc.flush()
    return seen


async def buckets(nc: NATS, *contexts: BoundedContext) -> dict[str, KeyValueProcessedCommands]:
    return {c.name: await KeyValueProcessedCommands.open(nc, c) for c in contexts}


async def test_in_a_running_system_a_warm_command_with_a_new_id_asks_no_bucket(
    connect: Callable[..., object], fixed_clock: FixedClock
) -> None:
    other = await connect()  # type: ignore[misc]
    records = await buckets(other, REGISTRY, ENROLMENT, NOTIFIER)
    for name, record in records.items():
        await record.put(f"before-{name}", record_of(REGISTRY if name == "registry" else
                                                     ENROLMENT if name == "enrolment" else
                                                     NOTIFIER, f"before-{name}"))  # fmt: skip
    nc = await connect()  # type: ignore[misc]
    spy = await connect()  # type: ignore[misc]
    service = await all_trusted(await service_on(nc, fixed_clock))
    await warm_on(service, "ga")
    seen = await direct_gets(spy)
    for n in range(5):
        reply = await handle(
            service, RecordEntries(command_id=f"g-{n}", ledger_id="ga", amounts=[n + 1])
        )
        assert isinstance(reply, CommandAccepted)
        assert reply.duplicate is False
    await settled(nc, spy)
    assert seen == []  # before: each command asked the three other buckets (one request)
    assert len(mirrors(service)) == 4  # its own, and registry's, enrolment's, notifier's
    # Ids the other contexts recorded, before this process started and while it serves:
    # refused, as before.
    await records["notifier"].put("during-notifier", record_of(NOTIFIER, "during-notifier"))
    for used in ("before-registry", "before-enrolment", "before-notifier", "during-notifier"):
        reply = await handle(service, RecordEntries(command_id=used, ledger_id="ga", amounts=[9]))
        assert isinstance(reply, CommandRejected), used
        assert reply.code == "COMMAND_ID_REUSED", used
    await settled(nc, spy)
    assert seen  # (those were looked up: their keys are held)
    assert await amounts(nc, fixed_clock, "ga") == [1, 1, 2, 3, 4, 5]


async def test_records_written_before_during_and_just_after_the_load_are_all_held(
    connect: Callable[..., object], fixed_clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Records are written into this context's bucket and another's without pause from
    # before the service starts until after its mirrors are trusted; besides, some are
    # written and acknowledged at each step of each load: before its barrier is published,
    # after the barrier's refusal, and right after the keys were read. The load reads two
    # keys a request (many requests, writes landing between them). Every id written is then
    # reused on a warm aggregate: each one refused, none appended.
    monkeypatch.setattr(processed, "MIRROR_LOAD_BATCH", 2)
    writer = await connect()  # type: ignore[misc]
    stepper = await connect()  # type: ignore[misc]
    own = await processed.KeyValueProcessedCommands.open(writer, _ledger())
    records = {"own": own, **(await buckets(writer, ENROLMENT))}
    stepped = {"own": await processed.KeyValueProcessedCommands.open(stepper, _ledger()),
               **(await buckets(stepper, ENROLMENT))}  # fmt: skip
    written: list[str] = []

    async def put(record: KeyValueProcessedCommands, name: str, prefix: str) -> None:
        key = f"{prefix}-{name}-{next(_ids)}"
        context = ENROLMENT if name == "enrolment" else _ledger()
        await record.put(key, record_of(context, key))
        written.append(key)

    async def step(prefix: str) -> None:
        for name, record in stepped.items():
            await put(record, name, prefix)

    real_request = NATS.request
    real_keys = processed.stored_keys

    async def request(self: NATS, subject: str, *args: Any, **kwargs: Any) -> Msg:
        if subject.endswith(processed.MIRROR_BARRIER_KEY):
            await step("barrier")  # acknowledged before the barrier is sent
            try:
                return await real_request(self, subject, *args, **kwargs)
            finally:
                await step("refused")  # ... and after its refusal, before the load
        return await real_request(self, subject, *args, **kwargs)

    async def stored_keys(*args: Any, **kwargs: Any) -> set[str]:
        keys = await real_keys(*args, **kwargs)
        await step("loaded")  # after the keys were read, before the mirror is trusted
        return keys

    monkeypatch.setattr(NATS, "request", request)
    monkeypatch.setattr(processed, "stored_keys", stored_keys)
    stop = asyncio.Event()

    async def writing() -> None:
        while not stop.is_set():
            await asyncio.gather(*(put(r, n, "flow") for n, r in records.items()))

    flow = asyncio.ensure_future(writing())
    try:
        for _ in range(10):
            await asyncio.gather(*(put(r, n, "early") for n, r in records.items()))
        nc = await connect()  # type: ignore[misc]
        service = await all_trusted(await service_on(nc, fixed_clock))
        for _ in range(10):  # just after: the flow goes on a while
            await asyncio.gather(*(put(r, n, "after") for n, r in records.items()))
    finally:
        stop.set()
        await flow
    monkeypatch.setattr(NATS, "request", real_request)
    assert {w.split("-")[0] for w in written} >= {"early", "barrier", "refused", "loaded", "after"}
    await warm_on(service, "wa")
    for used in written:
        reply = await handle(service, RecordEntries(command_id=used, ledger_id="wa", amounts=[9]))
        assert isinstance(reply, CommandRejected), used
        assert reply.code == "COMMAND_ID_REUSED", used
    assert await amounts(nc, fixed_clock, "wa") == [1]


async def test_a_bucket_created_after_the_start_is_held_from_its_first_record(
    connect: Callable[..., object], fixed_clock: FixedClock
) -> None:
    nc = await connect()  # type: ignore[misc]
    service = await all_trusted(await service_on(nc, fixed_clock))  # no other bucket yet
    await warm_on(service, "ca")
    # The notifier's bucket asked once while missing (as a landed command asks every
    # record): known missing for `MISSING_BUCKET_RECHECK` s from then on.
    notifiers = [o for o in service._elsewhere if processed_bucket(NOTIFIER) in o._bucket]
    assert await notifiers[0].lookup("never", BOUND) is None
    later = await buckets(await connect(), NOTIFIER)  # type: ignore[misc]
    await later["notifier"].put("late-1", record_of(NOTIFIER, "late-1"))
    # Before: accepted (the bucket still "missing" for seconds); its mirror heard the key.
    reply = await handle(service, RecordEntries(command_id="late-1", ledger_id="ca", amounts=[2]))
    assert isinstance(reply, CommandRejected)
    assert reply.code == "COMMAND_ID_REUSED"
    assert await amounts(nc, fixed_clock, "ca") == [1]


async def test_the_barrier_is_never_stored(
    connect: Callable[..., object], fixed_clock: FixedClock
) -> None:
    other = await connect()  # type: ignore[misc]
    records = await buckets(other, ENROLMENT)
    await records["enrolment"].put("e-1", record_of(ENROLMENT, "e-1"))
    nc = await connect()  # type: ignore[misc]
    await all_trusted(await service_on(nc, fixed_clock))
    js = other.jetstream()
    for context in (_ledger(), ENROLMENT):
        stream = await js.stream_info(f"KV_{processed_bucket(context)}")
        assert stream.state.messages == (1 if context is ENROLMENT else 0), context.name


def _ledger() -> BoundedContext:
    from tests.support.ledger import LEDGER

    return LEDGER
