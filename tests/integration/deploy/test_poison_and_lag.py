"""A poison event is parked and reported while later events flow; lag is read from /metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from nats.aio.client import Client as NATS
from sqlalchemy import select

from contracts_schema.replies import CommandRejected
from eventstore.clock import FixedClock
from eventstore.health import HealthServer
from eventstore.observability import unwatch_projection, watch_projection
from eventstore.projection import ProjectionRunner, parked
from eventstore.serving import parse_reply, request_reply
from eventstore.sql import make_engine
from eventstore.store import CommandMetadata, EventStore, NewEvent
from tests.integration.deploy.ledger_projection import LedgerTotals, snapshot
from tests.integration.deploy.load import expected_balances, ledger_commands
from tests.integration.deploy.test_observability import sample
from tests.integration.deploy.test_projection_crashes import record
from tests.support.ledger import LEDGER

CLOCK = FixedClock(datetime(2026, 1, 15, tzinfo=UTC))


@pytest.fixture
async def health() -> AsyncIterator[HealthServer]:
    server = await HealthServer("127.0.0.1", 0).start()
    yield server
    await server.stop()


async def scrape(server: HealthServer) -> str:
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as http:
        response = await http.get("/metrics")
        assert response.status_code == 200
        return response.text


async def test_poison_event_is_parked_and_reported_while_later_events_flow(
    nats_client: NATS, tmp_path: Path, health: HealthServer
) -> None:
    before = ledger_commands("p1", 10)
    await record(nats_client, before)
    # A valid, hash-chained envelope whose payload the projection cannot apply (as an old or
    # buggy producer might write): the amount is not a number.
    store = EventStore(nats_client, CLOCK)
    history = await store.load(LEDGER, "ledger", "poisoned")
    poison = await store.append(
        history,
        [NewEvent("EntryRecorded", 1, {"amount": "lots"}, CLOCK.now())],
        CommandMetadata("poison-1", "legacy-importer", "poison-1"),
    )
    after = ledger_commands("p2", 10)
    await record(nats_client, after)
    last = await store.last_seq(LEDGER)
    engine = make_engine(f"sqlite:///{tmp_path / 'rm.db'}")
    runner = ProjectionRunner(nats_client, engine, LedgerTotals(), batch=7)
    watch_projection(nats_client, runner)
    try:
        await runner.start()
        assert await runner.wait_until({LEDGER.stream: last}, timeout=120)
        metrics = await scrape(health)
    finally:
        await runner.stop()
        unwatch_projection(runner)
    with engine.connect() as conn:
        rows = conn.execute(select(parked)).mappings().all()
    assert [(r["seq"], r["event_type"], r["aggregate"]) for r in rows] == [
        (poison[0].seq, "EntryRecorded", "ledger/poisoned")
    ]
    assert "ledger amount must be an integer, got 'lots'" in rows[0]["error"]
    balances = {r[0]: (r[1], r[2]) for r in snapshot(engine)["balances"]}  # type: ignore[attr-defined]
    assert balances == expected_balances([*before, *after])  # everything after it flowed on
    assert sample(metrics, "gt_projection_parked_events", projection="ledger_totals_v1") == 1
    assert (
        sample(metrics, "gt_projection_lag_events", projection="ledger_totals_v1", stream="LEDGER")
        == 0
    )


async def test_projection_lag_is_read_from_the_metrics(
    nats_client: NATS, tmp_path: Path, health: HealthServer
) -> None:
    commands = ledger_commands("lag", 15)
    await record(nats_client, commands)
    last = await EventStore(nats_client, CLOCK).last_seq(LEDGER)
    runner = ProjectionRunner(
        nats_client, make_engine(f"sqlite:///{tmp_path / 'rm.db'}"), LedgerTotals()
    )
    watch_projection(nats_client, runner)
    labels = {"projection": "ledger_totals_v1", "stream": "LEDGER"}
    try:
        # Not started yet: every event in the stream is lag.
        assert sample(await scrape(health), "gt_projection_lag_events", **labels) == last == 30
        await runner.start()
        assert await runner.wait_until({LEDGER.stream: last}, timeout=120)
        assert sample(await scrape(health), "gt_projection_lag_events", **labels) == 0
        await runner.stop()  # stopped: new events pile up as lag
        await record(nats_client, ledger_commands("lag2", 5))
        assert sample(await scrape(health), "gt_projection_lag_events", **labels) == 10
    finally:
        await runner.stop()
        unwatch_projection(runner)


@pytest.mark.parametrize(
    ("subject", "body", "code"),
    [
        ("ledger.commands.RecordEntries", b"\xff\xfe not even utf-8", "MALFORMED_COMMAND"),
        (
            "ledger.commands.RecordEntries",
            b'{"command_type": "RecordEntries"}',
            "MALFORMED_COMMAND",
        ),
        ("ledger.commands.RecordEntries", b"[1, 2, 3]", "MALFORMED_COMMAND"),
        (
            "ledger.commands.DropTables",
            b'{"command_type": "DropTables", "command": {}}',
            "UNKNOWN_COMMAND",
        ),
    ],
)
async def test_malformed_message_on_a_command_subject_is_rejected(
    nats_client: NATS, subject: str, body: bytes, code: str
) -> None:
    from eventstore.commands import CommandService
    from eventstore.service_app import serve_in_process, server_url
    from tests.support.ledger import EVENT_TYPES, ROUTES

    server = await serve_in_process(
        server_url(nats_client),
        [CommandService(LEDGER, EventStore(nats_client, CLOCK), CLOCK, ROUTES, EVENT_TYPES)],
    )
    try:
        reply = parse_reply(await request_reply(nats_client, subject, body, timeout=5))
    finally:
        await server.stop()
    assert isinstance(reply, CommandRejected)
    assert reply.code == code
    assert await EventStore(nats_client, CLOCK).last_seq(LEDGER) == 0  # nothing was appended
