"""`python -m bootstrap.serve notifier tick --now DATE` as an operator runs it: a subprocess against a real
nats-server and a read-model database, raising what is due on that day exactly once."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import date

from nats.aio.client import Client as NATS

from contracts_schema.subjects import NOTIFIER
from eventstore.clock import FixedClock
from eventstore.store import EventStore
from eventstore.testing.nats_server import NatsServer
from tests.integration.notifier.facts import frozen_list, signed


async def tick(server: NatsServer, database_url: str, now: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "GT_NATS_URL": server.url,
        "GT_DATABASE_URL": database_url,
        "COLUMNS": "200",  # typer's error box must not wrap the message
    }
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bootstrap.serve", "notifier", "tick", "--now", now],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


async def warnings(store: EventStore) -> list[tuple[str, str, str]]:
    return [
        (e.envelope.aggregate_id, e.envelope.payload["stage"], e.envelope.payload["raised_on"])
        async for e in store.read_stream(
            NOTIFIER, subject_filter=NOTIFIER.aggregate_type_filter("expiry_schedule")
        )
    ]


async def test_tick_raises_due_warnings_once(
    nats_server: NatsServer, nats_client: NATS, fixed_clock: FixedClock, database_url: str
) -> None:
    store = EventStore(nats_client, fixed_clock)
    await frozen_list(store, "T-1", "GM0363")
    await signed(store, "C-1", "T-1", signed_on=date(2025, 1, 1), end=date(2028, 6, 30))
    await signed(store, "C-2", "T-1", signed_on=date(2025, 1, 1), end=date(2027, 6, 30))

    first = await tick(nats_server, database_url, "2026-06-30")
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["day"] == "2026-06-30"
    assert summary["failed"] == []
    # C-1 is 24 months from its end, C-2 12 months (its 24 and 18 month marks are long past).
    assert summary["raised"] == ["C-1|end|2028-06-30|24m", "C-2|end|2027-06-30|12m"]
    raised_first = await warnings(store)
    assert sorted(raised_first) == [("C-1", "24m", "2026-06-30"), ("C-2", "12m", "2026-06-30")]

    again = await tick(nats_server, database_url, "2026-06-30")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["raised"] == []
    assert await warnings(store) == raised_first


async def test_tick_rejects_a_malformed_date_with_exit_code_2(
    nats_server: NatsServer, nats_client: NATS, fixed_clock: FixedClock, sqlite_url: str
) -> None:
    store = EventStore(nats_client, fixed_clock)
    await frozen_list(store, "T-1", "GM0363")
    await signed(store, "C-1", "T-1", signed_on=date(2024, 1, 1), end=date(2026, 6, 30))
    await store.ensure_stream(NOTIFIER)
    for bad in ("2026-02-30", "30-06-2026"):
        result = await tick(nats_server, sqlite_url, bad)
        assert result.returncode == 2, result.stderr
        assert f"Invalid value for '--now': {bad!r} is not a date (expected YYYY-MM-DD)" in (
            result.stderr
        )
        assert result.stdout == ""
    assert await warnings(store) == []
