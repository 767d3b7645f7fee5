"""Generated histories recorded by two appenders whose clocks disagree: every aggregate's
transaction times still run forward, and as known at any instant each view holds a prefix
of every aggregate's versions, folded the same way as the owner folds them.

Two command-service pairs (registry and enrolment) share one in-memory event store, each
sealing with its own clock; hypothesis draws, per command, which appender takes it and how
far that appender's clock is behind or ahead (up to an hour either way). The histories are
the generated ones of the one-truth property test (`tests.support.histories`).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from hypothesis import example, given
from hypothesis import strategies as st

from audit.bitemporal import Horizon, visible
from audit.history import replay
from bootstrap.parts import enrolment_service, registry_service
from contracts_schema.base import Command
from contracts_schema.envelope import EventEnvelope
from contracts_schema.folds import FOLDS, typed_event
from contracts_schema.replies import CommandRejected
from contracts_schema.subjects import CONTEXTS
from eventstore.clock import FixedClock
from eventstore.memory import InMemoryEventStore
from tests.service.bus import InProcessBus
from tests.support.histories import histories, with_facts_between
from tests.support.profiles import history_settings

FAR = datetime(2100, 1, 1, tzinfo=UTC)
SKEW = st.integers(min_value=-3600, max_value=3600)  # seconds behind (-) or ahead (+)


async def appenders(
    start: datetime,
) -> tuple[list[InProcessBus], list[FixedClock], list[InMemoryEventStore]]:
    """Two appenders on one store: each a store handle sealing with its own clock over the
    same streams (as two processes' JetStream clients over one stream)."""
    clocks = [FixedClock(start), FixedClock(start)]
    first = InMemoryEventStore(clocks[0])
    for context in CONTEXTS.values():
        await first.ensure_stream(context)
    second = InMemoryEventStore(clocks[1])
    second._streams = first._streams  # the same streams, another process's clock
    second.processed_commands = first.processed_commands
    buses = []
    for store, clock in ((first, clocks[0]), (second, clocks[1])):
        services = [registry_service(store, clock), enrolment_service(store, clock)]
        for service in services:
            await service.start()
        buses.append(InProcessBus(services))
    return buses, clocks, [first, second]


def by_aggregate(envelopes: list[EventEnvelope]) -> dict[tuple[str, str, str], list[EventEnvelope]]:
    found: dict[tuple[str, str, str], list[EventEnvelope]] = defaultdict(list)
    for e in envelopes:
        found[e.context, e.aggregate_type, e.aggregate_id].append(e)
    return found


# A fixed example always runs: every third command by an appender an hour behind.
BEHIND = [(i % 2, -3600 if i % 3 == 0 else 600) for i in range(80)]


@history_settings(3)
@given(
    history=histories(),
    skews=st.lists(st.tuples(st.integers(0, 1), SKEW), min_size=80, max_size=80),
)
@example(history=with_facts_between(), skews=BEHIND)
async def test_two_appenders_with_skewed_clocks_keep_one_known_order(
    history: list[Command], skews: list[tuple[int, int]]
) -> None:
    start = datetime(2026, 1, 15, 12, tzinfo=UTC)
    buses, clocks, stores = await appenders(start)
    wall = start
    for i, command in enumerate(history):
        wall += timedelta(seconds=10)
        which, skew = skews[i % len(skews)]
        clocks[which].set(wall + timedelta(seconds=skew))
        clocks[1 - which].set(wall)
        reply = await buses[which].send(command)
        assert not isinstance(reply, CommandRejected), (command, reply)
    envelopes = [
        e.envelope for context in CONTEXTS.values() async for e in stores[0].read_stream(context)
    ]
    aggregates = by_aggregate(envelopes)
    instants = sorted({e.recorded_at for e in envelopes})
    for (context, kind, ident), events in aggregates.items():
        times = [e.recorded_at for e in sorted(events, key=lambda e: e.aggregate_version)]
        assert times == sorted(times), f"{kind} {ident}: recorded backwards"
        if (context, kind) not in FOLDS:
            continue
        for known_at in instants[:: max(1, len(instants) // 6)]:
            horizon = Horizon(FAR, known_at)
            counted = visible(events, horizon)
            versions = sorted(e.aggregate_version for e in counted)
            assert versions == list(range(1, len(versions) + 1)), (kind, ident, known_at)
            # The owner's fold takes that prefix, and `audit replay` counts the same events
            # and refuses none of them.
            fold = FOLDS[context, kind]
            fold.replay(ident, (typed_event(e.event_type, e.payload) for e in counted))
            audit = replay(kind, ident, events, horizon)
            assert [t.envelope.event_id for t in audit.timeline] == [e.event_id for e in counted]
            assert not [t for t in audit.timeline if t.refused], (kind, ident, known_at)
