"""What every event store must do, held against the in-memory store and real JetStream alike."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from contracts_schema.subjects import BoundedContext
from eventstore.errors import AlreadyAppended, AppendFailed, ConcurrencyConflict
from eventstore.hashing import verify_chain
from eventstore.records import CommandMetadata, NewEvent, StoredEvent
from tests.acceptance.conftest import Backend

LEDGER = BoundedContext("ledger", "LEDGER")
AUDIT = BoundedContext("audit", "AUDIT")
WHEN = datetime(2020, 11, 13, tzinfo=UTC)


def entry(amount: int) -> NewEvent:
    return NewEvent("EntryRecorded", 1, {"amount": amount}, WHEN)


def meta(command_id: str) -> CommandMetadata:
    return CommandMetadata(command_id=command_id, actor="test", correlation_id=command_id)


async def record(backend: Backend, account: str, *amounts: int, command_id: str) -> None:
    history = await backend.store.load(LEDGER, "account", account)
    await backend.store.append(history, [entry(a) for a in amounts], meta(command_id))


async def amounts(backend: Backend, account: str) -> list[int]:
    history = await backend.store.load(LEDGER, "account", account)
    return [e.envelope.payload["amount"] for e in history.events]


async def eventually(predicate: object, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.02)


@pytest.fixture(autouse=True)
async def streams(backend: Backend) -> None:
    await backend.store.ensure_stream(LEDGER)
    await backend.store.ensure_stream(AUDIT)


async def test_of_two_appends_at_the_same_version_exactly_one_wins(backend: Backend) -> None:
    history = await backend.store.load(LEDGER, "account", "a")
    results = await asyncio.gather(
        backend.store.append(history, [entry(1)], meta("c1")),
        backend.store.append(history, [entry(2)], meta("c2")),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["ConcurrencyConflict", "list"]
    reloaded = await backend.store.load(LEDGER, "account", "a")
    assert [e.envelope.aggregate_version for e in reloaded.events] == [1]


async def test_appends_to_other_aggregates_do_not_conflict(backend: Backend) -> None:
    a = await backend.store.load(LEDGER, "account", "a")
    b = await backend.store.load(LEDGER, "account", "b")
    await backend.store.append(a, [entry(1)], meta("c1"))
    await backend.store.append(b, [entry(2)], meta("c2"))
    assert await amounts(backend, "a") == [1]
    assert await amounts(backend, "b") == [2]


async def test_a_retried_command_is_stored_once(backend: Backend) -> None:
    history = await backend.store.load(LEDGER, "account", "a")
    await backend.store.append(history, [entry(1)], meta("pay-1"))
    # The reply was lost; the sender retries with the history it had: a conflict, and the
    # reloaded history shows its own write already landed.
    with pytest.raises(ConcurrencyConflict):
        await backend.store.append(history, [entry(1)], meta("pay-1"))
    reloaded = await backend.store.load(LEDGER, "account", "a")
    assert len(reloaded.events_of_command("pay-1")) == 1
    # Retried after reloading, the broker recognises the command's message id.
    with pytest.raises(AlreadyAppended):
        await backend.store.append(reloaded, [entry(1)], meta("pay-1"))
    assert await amounts(backend, "a") == [1]
    assert await backend.store.last_seq(LEDGER) == 1


async def test_a_retried_batch_is_refused_whole_and_stored_once(backend: Backend) -> None:
    await record(backend, "a", 1, 2, command_id="split-1")
    history = await backend.store.load(LEDGER, "account", "a")
    with pytest.raises(AppendFailed) as refused:
        await backend.store.append(history, [entry(1), entry(2)], meta("split-1"))
    assert refused.value.code == 10201  # an atomic batch holding a duplicate message id
    assert await amounts(backend, "a") == [1, 2]


async def test_a_stale_batch_stores_nothing(backend: Backend) -> None:
    stale = await backend.store.load(LEDGER, "account", "b")
    stored = await backend.store.append(stale, [entry(1), entry(2), entry(3)], meta("first"))
    assert [e.seq for e in stored] == [1, 2, 3]
    with pytest.raises(ConcurrencyConflict):
        await backend.store.append(stale, [entry(4), entry(5), entry(6)], meta("second"))
    assert await amounts(backend, "b") == [1, 2, 3]
    assert await backend.store.last_seq(LEDGER) == 3, "no part of the rejected batch was stored"


async def test_load_returns_an_aggregates_events_in_order_with_gap_free_versions(
    backend: Backend,
) -> None:
    for n in range(3):
        await record(backend, "a", n, command_id=f"a{n}")
        await record(backend, "b", 10 + n, command_id=f"b{n}")
    await record(backend, "a", 3, 4, command_id="a-batch")
    history = await backend.store.load(LEDGER, "account", "a")
    assert [e.envelope.payload["amount"] for e in history.events] == [0, 1, 2, 3, 4]
    assert [e.envelope.aggregate_version for e in history.events] == [1, 2, 3, 4, 5]
    assert [e.seq for e in history.events] == [1, 3, 5, 7, 8]
    assert history.last_seq == 8
    assert {e.subject for e in history.events} == {"ledger.events.account.a.EntryRecorded"}


async def test_sequences_are_per_stream(backend: Backend) -> None:
    await record(backend, "a", 1, 2, command_id="c1")
    audit = await backend.store.load(AUDIT, "check", "x")
    stored = await backend.store.append(audit, [entry(9)], meta("c1"))
    assert [(e.stream, e.seq) for e in stored] == [("AUDIT", 1)]
    assert await backend.store.last_seq(LEDGER) == 2


async def test_the_hash_chain_verifies_and_detects_an_altered_event(backend: Backend) -> None:
    await record(backend, "a", 1, command_id="c1")
    await record(backend, "a", 2, 3, command_id="c2")
    history = await backend.store.load(LEDGER, "account", "a")
    envelopes = [e.envelope.model_dump(mode="json") for e in history.events]
    assert verify_chain("account/a", envelopes) == []
    assert envelopes[0]["prev_hash"] is None
    assert [e["prev_hash"] for e in envelopes[1:]] == [e["hash"] for e in envelopes[:-1]]
    envelopes[1]["payload"]["amount"] = 200
    assert [p.kind for p in verify_chain("account/a", envelopes)] == ["altered"]


async def test_read_stream_from_a_position(backend: Backend) -> None:
    for account in ("x", "y"):
        for n in range(3):
            await record(backend, account, n, command_id=f"{account}{n}")
    assert [e.seq async for e in backend.store.read_stream(LEDGER)] == [1, 2, 3, 4, 5, 6]
    assert [e.seq async for e in backend.store.read_stream(LEDGER, from_seq=5)] == [5, 6]
    only_y = LEDGER.aggregate_filter("account", "y")
    assert [e.seq async for e in backend.store.read_stream(LEDGER, 5, only_y)] == [5, 6]
    assert [e.seq async for e in backend.store.read_stream(LEDGER, 1, only_y)] == [4, 5, 6]
    assert [e.seq async for e in backend.store.read_stream(LEDGER, from_seq=7)] == []


async def test_a_subscription_delivers_every_event_once_in_order_then_live(
    backend: Backend,
) -> None:
    for n in range(25):
        await record(backend, f"acc{n % 3}", n, command_id=f"c{n}")
    seen: list[StoredEvent] = []

    async def handler(events: list[StoredEvent]) -> None:
        seen.extend(events)

    subscription = backend.subscribe(LEDGER, "contract-all", handler, None)
    subscription.start()
    try:
        await eventually(lambda: len(seen) >= 25)
        await record(backend, "late", 25, 26, command_id="late")
        await record(backend, "acc0", 27, command_id="later")
        await eventually(lambda: len(seen) >= 28)
        await asyncio.sleep(0.2)  # nothing more, nothing twice
    finally:
        await subscription.stop()
    assert [e.seq for e in seen] == list(range(1, 29))
    assert [e.envelope.payload["amount"] for e in seen] == list(range(28))


async def test_a_subscription_starts_right_after_its_owners_position(backend: Backend) -> None:
    for n in range(5):
        await record(backend, "a", n, command_id=f"c{n}")
    seen: list[int] = [3]  # the owner's checkpoint: sequences 1..3 are already applied

    async def handler(events: list[StoredEvent]) -> None:
        seen.extend(e.seq for e in events)

    subscription = backend.subscribe(LEDGER, "contract-positioned", handler, lambda: seen[-1])
    subscription.start()
    try:
        await eventually(lambda: seen[-1] == 5)
        await record(backend, "a", 5, command_id="c5")
        await eventually(lambda: seen[-1] == 6)
    finally:
        await subscription.stop()
    assert seen == [3, 4, 5, 6]


async def test_store_headers_cannot_be_overridden(backend: Backend) -> None:
    history = await backend.store.load(LEDGER, "account", "a")
    with pytest.raises(ValueError, match="Nats-Msg-Id"):
        await backend.store.append(
            history, [entry(1)], meta("c1"), headers={"Nats-Msg-Id": "forged"}
        )
    stored = await backend.store.append(
        history,
        [entry(1)],
        meta("c1"),
        headers={"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"},
    )
    assert [e.seq for e in stored] == [1]
