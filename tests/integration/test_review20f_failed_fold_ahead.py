"""Work prepared ahead never folds an event the batch under way parks for its fold (#18,
review20f).

fresh20 closed the path for refusals (duplicates, misplaced copies): their sequences are
left out of a cold timeline's history until their parks are committed. An event the
read model's *fold step* could not take is parked too (`VersionedProjection.prepare` keeps
any exception as the event's failure), and it is not in that set: fresh20 relied on a cold
history folding it again and refusing it again (a pure fold). That holds for the folds'
own refusals, not for a failure that does not come again -- a cold timeline whose history
could not be loaded (the event store not answering, a broker's hiccup). Prepared in its
turn, the aggregate's next event reads the history after the park is committed and leaves
the parked event out; prepared ahead, while that park is in the open transaction, it folded
the parked event in.

Real NATS JetStream, real SQLite; the read model keeps one timeline in memory (every other
aggregate is cold) and no event log is wired (the event store answers a history); the
store's answer fails once.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from nats.aio.client import Client as NATS
from sqlalchemy import Engine

import eventstore.projection as projection_module
from eventstore.clock import FixedClock
from eventstore.projection import ProjectionRunner
from eventstore.shared_delivery import SharedMember
from eventstore.store import EventStore, StoredEvent
from tests.integration.test_fresh20_cold_timeline_refused import (
    BOUND,
    LedgerVersions,
    _Gate,
    _Held,
    delivered_to,
    engine,  # noqa: F401  (fixture)
    ledger_events,  # noqa: F401  (fixture)
    parked_seqs,
)
from tests.integration.test_projection_runner import append
from tests.support.ledger import LEDGER
from tests.support.subscribers import ledger_store, wait_for


class SayingFailures(LedgerVersions):
    """Its held write says the fold step's failures (as `versioned._Prepared` does): the
    batch is known to park one when it is prepared, not only when it is written."""

    def prepare(self, dialect: Any, events: list[StoredEvent]) -> Any:
        prepared = super().prepare(dialect, events)
        if isinstance(prepared, _Held):
            prepared.failures = prepared._prepared.failures  # type: ignore[attr-defined]
        return prepared


@pytest.fixture
async def store(nats_client: NATS, fixed_clock: FixedClock) -> EventStore:
    return await ledger_store(nats_client, fixed_clock)


@pytest.mark.parametrize(
    "ahead", ["prepared ahead", "prepared ahead, failures said", "in its turn"]
)
async def test_an_event_parked_for_its_history_is_not_folded_into_the_next_one_ahead(
    nats_client: NATS,
    store: EventStore,
    engine: Engine,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    ahead: str,
) -> None:
    monkeypatch.setattr(projection_module, "FAIR_TURN", 1e6)  # whole batches
    monkeypatch.setattr(projection_module, "LONE_TURN", 1e6)
    said = ahead == "prepared ahead, failures said"
    model = SayingFailures("failed_fold_ahead") if said else LedgerVersions("failed_fold_ahead")
    runner = ProjectionRunner(nats_client, engine, model, batch=2)
    runner.prepares_ahead = ahead != "in its turn"
    await runner.start()
    gates: list[_Gate] = []
    try:
        await append(store, "a", [5], "a1")
        b1 = await append(store, "b", [7], "b1")  # `a` out of memory
        assert await runner.wait_until({LEDGER.stream: b1}, timeout=120)
        member = runner._subscribers[0]
        assert isinstance(member, SharedMember)
        shared = member.shared
        await wait_for(lambda: shared.members == [runner])
        await wait_for(lambda: all(m.backlog is None for m in shared._members))

        source: Any = runner._source
        load = source.load
        failing = {"a"}

        async def failing_once(context: Any, aggregate_type: str, aggregate_id: str) -> Any:
            if aggregate_id in failing:
                failing.discard(aggregate_id)
                raise TimeoutError("injected: the event store did not answer")
            return await load(context, aggregate_type, aggregate_id)

        monkeypatch.setattr(source, "load", failing_once)
        speculate = runner.speculate
        ahead_done = threading.Event()

        # k = [a2]: `a` cold, its history fails to load: a2 parked. Held in its preparation
        # until a3 waits in the buffer, and in its write until a3 was prepared ahead.
        a2 = b1 + 1
        a3 = a2 + 1

        def noting(stream: str, events: list[StoredEvent], after: int) -> None:
            try:
                speculate(stream, events, after)
            finally:
                if events[0].seq == a3:
                    ahead_done.set()

        monkeypatch.setattr(runner, "speculate", noting)
        model.prepare_gates[a2] = preparing_k = _Gate()
        model.write_gates[a2] = writing_k = _Gate()
        gates += [preparing_k, writing_k]
        assert await append(store, "a", [2], "a2") == a2
        await wait_for(preparing_k.reached.is_set, timeout=BOUND)
        assert await append(store, "a", [11], "a3") == a3
        await delivered_to(nats_client, shared._durable, a3)
        preparing_k.release.set()
        await wait_for(writing_k.reached.is_set, timeout=BOUND)
        if runner.prepares_ahead:
            await wait_for(ahead_done.is_set, timeout=BOUND)  # k's park not committed
        writing_k.release.set()
        assert await runner.wait_until({LEDGER.stream: a3}, timeout=120)
        assert not failing  # the history failed once
    finally:
        for gate in gates:
            gate.release.set()
        await runner.stop()
    assert parked_seqs(engine, model.key) == [a2]
    # Parked: it never took effect here, not in a's later rows either.
    assert model.current(engine) == {"a": (16, 2), "b": (7, 1)}
