"""A shared delivery's batch (`eventstore.shared_delivery`, #18 fresh17) commits in the thread
of the last member to prepare it, when every member prepared it in time: no hop back to the
loop and out to a thread of its pool between the last fold and the writer turn. Each event
still once per read model, in order, one commit per batch for every member. A commit's
announcements leave before the next batch (delivered meanwhile) is read."""

from __future__ import annotations

import threading

import pytest
from nats.aio.client import Client as NATS
from sqlalchemy import Connection, Engine, event

import eventstore.shared_delivery as shared_delivery_module
from eventstore.store import EventStore, StoredEvent
from tests.integration.test_fresh15_shared_delivery import (
    Seen,
    SeenB,
    SeenC,
    engine,
    reached,
    shared_of,
    started,
    stopped,
    store,
)
from tests.integration.test_fresh16_slow_member import Holdable, holdable
from tests.integration.test_live_pull import consumer_when
from tests.integration.test_projection_runner import append
from tests.support.ledger import LEDGER
from tests.support.subscribers import wait_for

__all__ = ["engine", "holdable", "store"]  # the fixtures, shared with fresh15's and fresh16's


class Where(Seen):
    """`Seen`, noting the thread each of its applies ran in (inside the shared transaction)."""

    name = "seen_where"

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[str] = []

    def apply(self, conn: Connection, event: StoredEvent) -> None:
        self.threads.append(threading.current_thread().name)
        super().apply(conn, event)


async def test_the_last_member_ready_commits_the_shared_batch_in_its_own_thread(
    nats_client: NATS, store: EventStore, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every member in every batch (none left out by a busy machine): fresh15's setting.
    monkeypatch.setattr(shared_delivery_module, "STRAGGLER_WAIT", 60.0)
    where = Where()
    projections = [Seen(), SeenB(), SeenC(), where]
    runners = await started(nats_client, engine, *projections)
    try:
        last = await append(store, "a", [1], "first")
        await reached(runners, last)
        shared = shared_of(runners[0])
        await wait_for(lambda: len(shared.members) == len(runners))
        commits: list[int] = []
        event.listen(engine, "commit", lambda _conn: commits.append(1))
        before, applied = shared.batches, len(where.threads)
        for i in range(10):
            last = await append(store, f"l{i % 3}", [i, i + 1], f"c{i}")
        await reached(runners, last)
        batches = shared.batches - before
        assert batches >= 1
        assert len(commits) == batches  # one transaction per batch for the four
        assert shared.rolled_back == 0
        # Each shared transaction ran in a member's own thread (`SharedMember.thread`,
        # "shared-<key>"), not in the loop's pool ("asyncio_<n>") after a hop.
        threads = where.threads[applied:]
        assert len(threads) == last - 1
        assert {name.split("_")[0] for name in threads} == {"shared-seen"}, threads
    finally:
        await stopped(runners)
    for projection in projections:
        assert projection.seqs(engine) == list(range(1, last + 1))
    for runner in runners:
        assert runner.load_positions() == {LEDGER.stream: last}


async def test_a_commits_announcements_leave_before_the_next_batch_is_read(
    nats_client: NATS,
    store: EventStore,
    engine: Engine,
    holdable: Holdable,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The announcements are queued for the NATS client's flusher task; without a turn of the
    loop they waited there while the next batch, already delivered, was decoded and judged
    and its members' threads started (a reader's wait for the commit with them)."""
    monkeypatch.setattr(shared_delivery_module, "STRAGGLER_WAIT", 60.0)
    runners = await started(nats_client, engine, Seen(), holdable)
    subject = runners[1]._news.subject if runners[1]._news is not None else ""
    assert subject
    unsent: list[bool] = []  # per batch read: an announcement still queued, unsent
    read = shared_delivery_module.read_batch

    def reading(*args: object) -> object:
        # nats-py queues a publish in `_pending` until its flusher task writes it out.
        unsent.append(any(subject.encode() in bytes(c) for c in nats_client._pending))
        return read(*args)  # type: ignore[arg-type]

    try:
        last = await append(store, "a", [1], "first")
        await reached(runners, last)
        shared = shared_of(runners[0])
        await wait_for(lambda: len(shared.members) == 2)
        holdable.hold()
        held = await append(store, "h", [1], "held")
        await wait_for(holdable.holding.is_set)  # its batch is held in its prepare
        for i in range(3):
            last = await append(store, f"n{i}", [i], f"next{i}")
        # Delivered while the held batch is applied: the next batch is read at once after it.
        info = await consumer_when(
            nats_client, shared._durable, lambda i: i.num_ack_pending == last - held + 1
        )
        assert info.num_ack_pending == last - held + 1
        monkeypatch.setattr(shared_delivery_module, "read_batch", reading)
        holdable.release()
        await reached(runners, last)
        assert unsent  # the batch after the held one was read
        assert unsent[0] is False, unsent
    finally:
        holdable.release()
        await stopped(runners)
