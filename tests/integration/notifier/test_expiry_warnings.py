"""Expiry warnings on a real NATS server: each exactly once, recomputed after an extension,
and without duplicates when two instances race and one restarts in the middle."""

from __future__ import annotations

import asyncio
import json
from datetime import date

from nats.aio.client import Client as NATS

from contracts_schema.subjects import NOTIFIER
from eventstore.clock import FixedClock
from eventstore.store import EventStore
from notifier.feed import INTEGRATION_STREAM
from tests.integration.notifier.facts import extended, frozen_list, notifier, signed


async def warnings_in_stream(store: EventStore) -> list[tuple[str, str, str, bool]]:
    return [
        (
            e.envelope.aggregate_id,
            e.envelope.payload["target_date"],
            e.envelope.payload["stage"],
            e.envelope.payload["late"],
        )
        async for e in store.read_stream(
            NOTIFIER, subject_filter=NOTIFIER.aggregate_type_filter("expiry_schedule")
        )
    ]


async def test_contract_walks_through_its_thresholds_and_an_extension(
    nats_client: NATS, fixed_clock: FixedClock, database_url: str
) -> None:
    store = EventStore(nats_client, fixed_clock)
    await frozen_list(store, "T-1", "GM0363", "GM0599")
    await signed(store, "C-1", "T-1", signed_on=date(2025, 1, 1), end=date(2028, 6, 30))
    service = notifier(nats_client, fixed_clock, database_url)
    await service.start(commands=False, webhooks=False)
    try:
        seen: list[tuple[date, list[str]]] = []

        async def tick(day: date) -> None:
            result = await service.tick(day)
            seen.append((day, [w.stage for w in result.raised]))

        # Each threshold's day, the day after, and a quiet day between.
        for day in [
            date(2026, 6, 29), date(2026, 6, 30), date(2026, 7, 1), date(2026, 9, 1),
            date(2026, 12, 30), date(2026, 12, 31), date(2027, 6, 30), date(2027, 7, 1),
            date(2027, 12, 30), date(2028, 3, 30), date(2028, 3, 31), date(2028, 4, 29),
        ]:  # fmt: skip
            await tick(day)
        # An option is exercised a month after the 3-month warning: one more year.
        await extended(store, "C-1", date(2028, 6, 30), date(2029, 6, 30), on=date(2028, 4, 30))
        for day in [
            date(2028, 5, 1), date(2028, 6, 29), date(2028, 6, 30), date(2028, 7, 1),
            date(2028, 12, 30), date(2029, 3, 30), date(2029, 6, 30), date(2029, 7, 1),
        ]:  # fmt: skip
            await tick(day)
    finally:
        await service.stop()

    assert [(d.isoformat(), s) for d, s in seen if s] == [
        ("2026-06-30", ["24m"]),
        ("2026-12-30", ["18m"]),
        ("2027-06-30", ["12m"]),
        ("2027-12-30", ["6m"]),
        ("2028-03-30", ["3m"]),
        # Extended past the old end: no "expiry" on 2028-06-30 for the old date; the new end's
        # 24 and 18 month marks had passed when it was extended, so they are never raised.
        ("2028-06-30", ["12m"]),
        ("2028-12-30", ["6m"]),
        ("2029-03-30", ["3m"]),
        ("2029-06-30", ["expiry"]),
    ]
    assert await warnings_in_stream(store) == [
        ("C-1", "2028-06-30", "24m", False),
        ("C-1", "2028-06-30", "18m", False),
        ("C-1", "2028-06-30", "12m", False),
        ("C-1", "2028-06-30", "6m", False),
        ("C-1", "2028-06-30", "3m", False),
        ("C-1", "2029-06-30", "12m", False),
        ("C-1", "2029-06-30", "6m", False),
        ("C-1", "2029-06-30", "3m", False),
        ("C-1", "2029-06-30", "expiry", False),
    ]


async def test_backdated_contract_gets_one_late_warning(
    nats_client: NATS, fixed_clock: FixedClock, database_url: str
) -> None:
    store = EventStore(nats_client, fixed_clock)
    await frozen_list(store, "T-2", "GM0363")
    # Entered on 2026-01-15 (the fixed clock) for a contract signed in 2024 ending 2026-03-01.
    await signed(store, "C-2", "T-2", signed_on=date(2024, 1, 1), end=date(2026, 3, 1))
    service = notifier(nats_client, fixed_clock, database_url)
    await service.start(commands=False, publish=False, webhooks=False)
    try:
        first = await service.tick(date(2026, 1, 15))
        again = await service.tick(date(2026, 1, 16))
    finally:
        await service.stop()
    assert [(w.stage, w.due_on, w.late) for w in first.raised] == [("3m", date(2025, 12, 1), True)]
    assert again.raised == []
    assert await warnings_in_stream(store) == [("C-2", "2026-03-01", "3m", True)]


async def test_two_instances_and_a_restart_raise_each_warning_once(
    nats_client: NATS, fixed_clock: FixedClock, database_url: str, other_database_url: str
) -> None:
    store = EventStore(nats_client, fixed_clock)
    await frozen_list(store, "T-3", "GM0363", "GM0772")
    for i in range(6):
        await signed(store, f"C-3{i}", "T-3", signed_on=date(2025, 1, 1), end=date(2028, 6, 30 - i))
    a = notifier(nats_client, fixed_clock, database_url, integration_ack_wait=1.0)
    b = notifier(nats_client, fixed_clock, other_database_url, integration_ack_wait=1.0)
    await a.start(commands=False, webhooks=False)
    await b.start(commands=False, webhooks=False)
    days = [date(2026, 6, 30), date(2026, 12, 31), date(2027, 6, 30), date(2027, 12, 30),
            date(2028, 3, 30), date(2028, 6, 30)]  # fmt: skip
    raised_by = {"a": 0, "b": 0}
    try:
        for index, day in enumerate(days):
            ra, rb = await asyncio.gather(a.tick(day), b.tick(day))
            raised_by["a"] += len(ra.raised)
            raised_by["b"] += len(rb.raised)
            assert not ra.failed
            assert not rb.failed
            if index == 2:
                # Instance b restarts (same database) in the middle of the walk.
                await b.stop()
                b = notifier(nats_client, fixed_clock, other_database_url, integration_ack_wait=1.0)
                await b.start(commands=False, webhooks=False)
                again = await b.tick(day)
                assert again.raised == []
        assert await a.publisher.wait_drained()
    finally:
        await a.stop()
        await b.stop()

    stored = await warnings_in_stream(store)
    keys = [(c, t, s) for c, t, s, _late in stored]
    assert len(keys) == len(set(keys)) == 6 * 6  # six contracts, six stages each
    assert raised_by["a"] + raised_by["b"] == 36

    # The integration feed holds each warning once per recipient, whoever published it.
    js = nats_client.jetstream()
    info = await js.stream_info(INTEGRATION_STREAM)
    expiring: list[tuple[str, str]] = []
    for seq in range(1, info.state.last_seq + 1):
        msg = await js.get_msg(INTEGRATION_STREAM, seq)
        event = json.loads(msg.data or b"{}")
        if event["type"] == "nl.gt.contract.expiring.v1":
            expiring.append((str(msg.subject), event["id"]))
    assert len(expiring) == len(set(expiring)) == 36 * 3  # GM0363, GM0772 and the authority
