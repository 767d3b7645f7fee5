"""Clock skew between appenders: an aggregate's transaction times never run backwards, and
every view reads a legacy history that has them run backwards by one rule.

Each process seals its events with its own clock. Two processes whose clocks disagree (or one
clock stepped back) could record an aggregate's later version "before" its predecessor: then
a view as known at an instant between the two took the later event without its predecessor,
where the owner folded both, in version order. Now the appender records a version no earlier
than its predecessor (`eventstore.records.recorded_after`); a history stored before (legacy)
is read by every view as known from the latest transaction time of the event and its
predecessors (`eventstore.known_time`; docs/valid-time.md, "Transaction time").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from audit.bitemporal import Horizon, end_of_day
from audit.history import replay
from contracts_schema.envelope import EventEnvelope
from contracts_schema.registry import commands as cmd
from contracts_schema.subjects import REGISTRY
from eventstore.clock import FixedClock
from eventstore.memory import InMemoryEventStore
from eventstore.records import AggregateHistory, CommandMetadata, NewEvent, StoredEvent
from tests.integration.gateway.harness import Gateway, start_memory_gateway
from tests.service.bus import InProcessBus
from tests.service.story import SIGN_C1, bus_on
from tests.service.test_backdated_between_facts import one_truth


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 10, tzinfo=UTC)


SIGN = SIGN_C1
AMEND = cmd.AmendContract(
    command_id="amend", contract_id="c1", summary="Verlengd",
    new_end_date=date(2023, 3, 31), occurred_at=at(2021, 6, 1),
)  # fmt: skip


async def recorded(store: InMemoryEventStore) -> list[datetime]:
    history = await store.load(REGISTRY, "contract", "c1")
    return [e.envelope.recorded_at for e in history.events]


async def test_a_version_sealed_by_a_clock_behind_its_predecessor_is_recorded_no_earlier(
    gateway: Gateway, bus: InProcessBus, store: InMemoryEventStore, clock: FixedClock
) -> None:
    """The amendment is sealed by a clock an hour behind the signature's: recorded with the
    signature's transaction time, so as known at any instant every view and the owner's
    fold of what was known then agree (half an hour after the skewed clock's reading the
    contract is not known at all: it was signed later by the registry's own account)."""
    await bus.accept(SIGN)
    signed_at = clock.now()
    clock.set(signed_at - timedelta(hours=1))  # another appender's clock, or a step back
    await bus.accept(AMEND)
    assert await recorded(store) == [signed_at, signed_at]
    between = signed_at - timedelta(minutes=30)
    days = [date(2021, 1, 1), date(2021, 7, 1)]
    answers = await one_truth(gateway, store, "contract", "c1", days, [None, between, signed_at])
    assert answers[date(2021, 7, 1), between] is None
    assert answers[date(2021, 7, 1), signed_at]["endDate"] == "2023-03-31"


class LegacyStore(InMemoryEventStore):
    """Seals as releases before the rule did: with its clock's reading alone."""

    def seal(
        self, history: AggregateHistory, new_events: Sequence[NewEvent], meta: CommandMetadata
    ) -> list[EventEnvelope]:
        if not history.events:
            return super().seal(history, new_events, meta)
        last = history.events[-1]
        long_ago = last.envelope.model_copy(
            update={"recorded_at": datetime.min.replace(tzinfo=UTC)}
        )
        forgetful: StoredEvent = replace(last, envelope=long_ago)  # same hash: the chain holds
        return super().seal(replace(history, events=(forgetful,)), new_events, meta)


async def recorded_backwards(clock: FixedClock) -> tuple[LegacyStore, InProcessBus, datetime]:
    """A legacy store's contract c1: signed, then amended by a clock an hour behind (the
    amendment recorded an hour before the signature); the signature's transaction time."""
    store = LegacyStore(clock)
    bus = await bus_on(store, clock)
    await bus.accept(SIGN)
    signed_at = clock.now()
    clock.set(signed_at - timedelta(hours=1))
    await bus.accept(AMEND)
    return store, bus, signed_at


async def test_a_legacy_history_recorded_backwards_is_read_by_one_rule_in_every_view(
    tmp_path: Path, clock: FixedClock
) -> None:
    """A history stored before the rule, with the amendment recorded an hour before the
    signature: every view (GraphQL knownAt, the owner's fold of what was known, `audit
    replay`, OCDS) takes the amendment as known from the signature's transaction time."""

    store, bus, signed_at = await recorded_backwards(clock)
    stored = await recorded(store)
    assert stored == [signed_at, signed_at - timedelta(hours=1)]  # recorded backwards
    between = signed_at - timedelta(minutes=30)
    horizon = Horizon(end_of_day(date(2021, 7, 1)), between)
    envelopes = [e.envelope for e in (await store.load(REGISTRY, "contract", "c1")).events]
    assert replay("contract", "c1", envelopes, horizon).as_json()["exists"] is False
    g = await start_memory_gateway(store, f"sqlite:///{tmp_path / 'views.db'}", commands=bus)
    try:
        days = [date(2021, 1, 1), date(2021, 7, 1)]
        answers = await one_truth(g, store, "contract", "c1", days, [None, between, signed_at])
    finally:
        await g.stop()
    assert answers[date(2021, 7, 1), between] is None
    assert answers[date(2021, 7, 1), signed_at]["endDate"] == "2023-03-31"


async def test_the_audits_history_model_keeps_a_legacy_history_known_in_version_order(
    tmp_path: Path, clock: FixedClock
) -> None:
    """The audit's temporal read model (entitiesAsOf) takes the amendment recorded an hour
    before the signature as known from the signature's time: no version of the contract is
    known before the contract itself."""
    from sqlalchemy import MetaData, select

    from audit.temporal import TemporalProjection
    from audit.versions import utc_text
    from eventstore.sql import make_engine

    store, _bus, signed_at = await recorded_backwards(clock)
    engine = make_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    projection = TemporalProjection()
    metadata = MetaData()
    projection.define(metadata)
    metadata.create_all(engine)
    with engine.begin() as conn:
        for event in (await store.load(REGISTRY, "contract", "c1")).events:
            projection.apply(conn, event)
    v = projection.versions.c
    with engine.connect() as conn:
        known = (
            conn.execute(
                select(v.known_from).where(v.aggregate_type == "contract", v.aggregate_id == "c1")
            )
            .scalars()
            .all()
        )
    assert known
    assert min(known) == utc_text(signed_at)
