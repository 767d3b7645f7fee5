"""A registry fact becomes an integration event on the participants' subjects, valid against
its generated JSON Schema, and the example municipal consumer receives it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import jsonschema
from nats.aio.client import Client as NATS

from eventstore.clock import FixedClock
from eventstore.store import EventStore
from eventstore.testing.nats_server import NatsServer
from notifier.feed import INTEGRATION_STREAM
from tests.integration.notifier.facts import expired, frozen_list, notifier, signed

ROOT = Path(__file__).resolve().parents[3]
GENERATED = ROOT / "contracts-schema" / "generated" / "integration"
EXPIRED = "nl.gt.contract.expired.v1"


async def feed(nc: NATS) -> list[tuple[str, dict[str, object]]]:
    js = nc.jetstream()
    last = (await js.stream_info(INTEGRATION_STREAM)).state.last_seq
    messages = [await js.get_msg(INTEGRATION_STREAM, seq) for seq in range(1, last + 1)]
    return [(str(m.subject), json.loads(m.data or b"{}")) for m in messages]


async def published(nc: NATS, clock: FixedClock, database_url: str) -> None:
    """The notifier run until it has published the integration events of every fact stored
    so far, then stopped."""
    service = notifier(nc, clock, database_url)
    await service.start(commands=False, webhooks=False)
    try:
        assert await service.publisher.wait_drained()
    finally:
        await service.stop()


async def test_contract_expired_reaches_every_participant_as_integration_event(
    nats_server: NatsServer, nats_client: NATS, fixed_clock: FixedClock, database_url: str
) -> None:
    store = EventStore(nats_client, fixed_clock)
    await frozen_list(store, "T-9", "GM0363", "GM0599")
    await signed(store, "C-9", "T-9", signed_on=date(2022, 1, 1), end=date(2025, 12, 31))
    await expired(store, "C-9", date(2025, 12, 31))
    await published(nats_client, fixed_clock, database_url)

    events = [(s, e) for s, e in await feed(nats_client) if e["type"] == EXPIRED]
    assert sorted(s for s, _ in events) == [
        f"gt.org.GM0363.{EXPIRED}",
        f"gt.org.GM0599.{EXPIRED}",
        f"gt.org.OIN-00000001234567890000.{EXPIRED}",
    ]
    schema = json.loads((GENERATED / f"{EXPIRED}.json").read_text())
    for _, event in events:
        assert event["subject"] == "contract/C-9"
        assert event["data"] == {"contract_id": "C-9", "expired_on": "2025-12-31"}
        jsonschema.validate(event["data"], schema)

    # The documented example consumer handles it like any other type.
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, str(ROOT / "examples" / "municipal_consumer.py"), "--url",
         nats_server.url, "--org", "GM0363", "--password", "unused", "--max", "10",
         "--idle", "0.5"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    received = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["type"] for r in received] == ["nl.gt.contract.signed.v1", EXPIRED]
    assert received[1]["data"] == {"contract_id": "C-9", "expired_on": "2025-12-31"}
