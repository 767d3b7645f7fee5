"""`append_group` (a group commit, eventstore.group_append) holds to the same contract on both
stores: many aggregates' staged events stored all or none, each aggregate guarded by the
sequence its decisions were made on, a resend stored once."""

from __future__ import annotations

import pytest

from eventstore.errors import AppendFailed, ConcurrencyConflict
from eventstore.group_append import StagedStore
from eventstore.hashing import verify_chain
from eventstore.ports import GroupAppender
from tests.acceptance.conftest import Backend
from tests.acceptance.test_event_store_contract import LEDGER, amounts, entry, meta, record


@pytest.fixture(autouse=True)
async def stream(backend: Backend) -> None:
    await backend.store.ensure_stream(LEDGER)


async def staged(backend: Backend, *writes: tuple[str, str, list[int]]) -> StagedStore:
    """Each (account, command id, amounts) decided on a staged store, in order."""
    staging = StagedStore(backend.store)
    for account, command_id, values in writes:
        history = await staging.load(LEDGER, "account", account)
        await staging.append(history, [entry(v) for v in values], meta(command_id))
    return staging


def group_store(backend: Backend) -> GroupAppender:
    assert isinstance(backend.store, GroupAppender)
    return backend.store


async def test_a_group_stores_every_aggregates_events_in_the_order_staged(
    backend: Backend,
) -> None:
    await record(backend, "a", 1, command_id="before")
    staging = await staged(
        backend, ("a", "c1", [2, 3]), ("b", "c2", [10]), ("a", "c3", [4]), ("c", "c4", [20])
    )
    provisional = await staging.load(LEDGER, "account", "a")
    assert [e.envelope.aggregate_version for e in provisional.events] == [1, 2, 3, 4]
    stored = await group_store(backend).append_group(staging.events())
    assert [e.seq for e in stored] == [2, 3, 4, 5, 6]  # one batch, after the one before
    assert [e.envelope.payload["amount"] for e in stored] == [2, 3, 10, 4, 20]
    assert await amounts(backend, "a") == [1, 2, 3, 4]
    assert await amounts(backend, "b") == [10]
    history = await backend.store.load(LEDGER, "account", "a")
    assert verify_chain("a", [e.envelope.model_dump(mode="json") for e in history.events]) == []
    assert [e.envelope.aggregate_version for e in history.events] == [1, 2, 3, 4]


async def test_a_group_with_one_moved_aggregate_stores_nothing(backend: Backend) -> None:
    staging = await staged(backend, ("a", "c1", [1]), ("b", "c2", [2, 3]))
    await record(backend, "b", 99, command_id="elsewhere")  # another writer, meanwhile
    with pytest.raises(ConcurrencyConflict):
        await group_store(backend).append_group(staging.events())
    assert await amounts(backend, "a") == []
    assert await amounts(backend, "b") == [99]
    assert await backend.store.last_seq(LEDGER) == 1


async def test_a_group_sent_again_is_refused_whole_and_stored_once(backend: Backend) -> None:
    staging = await staged(backend, ("a", "c1", [1]), ("b", "c2", [2]))
    await group_store(backend).append_group(staging.events())
    fresh = await staged(backend, ("c", "c3", [3]), ("a", "c1", [1]))  # c1 landed before
    with pytest.raises(AppendFailed) as refused:
        await group_store(backend).append_group(fresh.events())
    assert refused.value.code == 10201  # a duplicate message id: nothing of it stored
    assert await amounts(backend, "c") == []
    assert await amounts(backend, "a") == [1]
