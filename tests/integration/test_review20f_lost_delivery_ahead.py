"""Work prepared ahead must judge duplicates in stream order (#18, review20f).

A duplicate is "a later message repeating a version of its aggregate already applied"
(`trust.Duplicates`): the verdict depends on which of two copies is judged first, and every
reader of a connection shares it, so the first judgement must come in stream order. The
shared delivery hands over only batches that continue right after its position (a message
lost on the way is a gap: the consumer is recreated and both come again, in order). Work
prepared ahead (`SharedDelivery._upcoming`, fresh19) took what waited in the live pull's
buffer as it was: with the original's delivery lost, the copy behind it was judged first
(no duplicate: nothing of its version seen yet), and once the original came again it was no
duplicate either (not later than the copy): both applied, the copy counted as an event.

Real NATS JetStream, real SQLite, one read model that counts every event it applies; the
loss is injected in the live pull's inbox callback (a slow consumer's drop, for instance).
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from sqlalchemy import Engine, select

from eventstore.clock import FixedClock
from eventstore.live_pull import LivePull, stream_sequence
from eventstore.projection import ProjectionRunner, parked
from eventstore.shared_delivery import SharedMember
from eventstore.sql import make_engine
from eventstore.store import EventStore
from tests.integration.test_fresh19_prepared_ahead import Counting
from tests.integration.test_fresh20_cold_timeline_refused import copy_onto, delivered_to
from tests.integration.test_projection_runner import append
from tests.support.ledger import LEDGER
from tests.support.subscribers import ledger_store, wait_for

BOUND = 60.0  # waits for what must happen while a preparation is held


@pytest.fixture
async def store(nats_client: NATS, fixed_clock: FixedClock) -> EventStore:
    return await ledger_store(nats_client, fixed_clock)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    made = make_engine(f"sqlite:///{tmp_path}/lost.db")
    yield made
    made.dispose()


@pytest.mark.parametrize("ahead", ["prepared ahead", "in its turn"])
async def test_a_lost_delivery_before_a_duplicate_judges_the_copy_a_duplicate(
    nats_client: NATS,
    store: EventStore,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    ahead: str,
) -> None:
    lose: set[int] = set()
    lost: list[int] = []
    on_message = LivePull._on_message

    async def lossy(self: LivePull, msg: Msg) -> None:
        if msg.reply and msg.reply.startswith("$JS.ACK.") and stream_sequence(msg) in lose:
            seq = stream_sequence(msg)
            lose.discard(seq)  # once: the consumer recreated delivers it again
            lost.append(seq)
            self._owed -= 1  # the server counted it delivered
            return
        await on_message(self, msg)

    monkeypatch.setattr(LivePull, "_on_message", lossy)  # before any pull subscribes

    write = (threading.Event(), threading.Event())
    model = Counting("lost_ahead", engine, write)
    runner = ProjectionRunner(nats_client, engine, model, batch=50)
    runner.prepares_ahead = ahead == "prepared ahead"
    await runner.start()
    try:
        first = await append(store, "z", [0], "first")
        assert await runner.wait_until({LEDGER.stream: first}, timeout=120)
        member = runner._subscribers[0]
        assert isinstance(member, SharedMember)
        shared = member.shared
        await wait_for(lambda: shared.members == [runner])
        await wait_for(lambda: all(m.backlog is None for m in shared._members))

        # Batch k held in its preparation while the original and its copy are pushed, the
        # original's delivery lost: the copy waits in the buffer when k's commit starts.
        k = first + 1
        model.hold_prepare_at = k
        assert await append(store, "k", [1], "k") == k
        await wait_for(model.preparing_held.is_set, timeout=BOUND)
        original = k + 1
        lose.add(original)
        assert await append(store, "a", [5], "a1") == original
        copy = await copy_onto(nats_client, original, "a")
        await delivered_to(nats_client, shared._durable, copy)

        def buffered() -> bool:
            pull = shared._pull
            return pull is not None and copy in [stream_sequence(m) for m in pull.peek(50)]

        await wait_for(buffered, timeout=BOUND)
        assert lost == [original]
        model.release.set()
        assert await runner.wait_until({LEDGER.stream: copy}, timeout=120)
        assert shared.gaps >= 1  # the lost delivery was found, and delivered again
    finally:
        model.release.set()
        await runner.stop()

    with engine.connect() as conn:
        parks = conn.execute(
            select(parked.c.seq, parked.c.error).where(parked.c.projection == model.key)
        ).all()
    assert [seq for seq, _ in parks] == [copy]
    assert parks[0][1].startswith("duplicate")
    rows = model.rows()
    assert [s for s, _ in rows] == [first, k, original]  # the copy is no event of its own
    assert [n for _, n in rows] == [1, 2, 3]
