"""The command bus on a real NATS server: idempotency, atomicity, rejections, resilience."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from nats.aio.client import Client as NATS

from contracts_schema.replies import CommandAccepted, CommandRejected
from eventstore.clock import FixedClock
from eventstore.commands import CommandService
from eventstore.service_app import CommandServer, build_service_app, serve_in_process, server_url
from eventstore.serving import parse_reply, request_reply, send_command
from eventstore.settings import NatsSettings
from eventstore.store import EventStore
from eventstore.testing.nats_server import NatsServer
from tests.support.ledger import EVENT_TYPES, LEDGER, ROUTES, RecordEntries


def ledger_service(nc: NATS, clock: FixedClock) -> CommandService:
    return CommandService(LEDGER, EventStore(nc, clock), clock, ROUTES, EVENT_TYPES)


@pytest.fixture
async def server(nats_client: NATS, fixed_clock: FixedClock) -> AsyncIterator[CommandServer]:
    """The one command subscriber, as the containers and bootstrap serve."""
    broker = await serve_in_process(
        server_url(nats_client), [ledger_service(nats_client, fixed_clock)]
    )
    # Answered (an unknown command) once the subscription is live for this client too.
    await request_reply(nats_client, LEDGER.command_subject("Probe"), b"{}", timeout=5)
    yield broker
    await broker.stop()


async def history(nc: NATS, clock: FixedClock, ledger_id: str) -> list[int]:
    loaded = await EventStore(nc, clock).load(LEDGER, "ledger", ledger_id)
    return [e.envelope.payload["amount"] for e in loaded.events]


async def test_accepted_reply_carries_events_and_consistency_token(
    server: CommandServer, nats_client: NATS
) -> None:
    reply = await send_command(
        nats_client, LEDGER, RecordEntries(command_id="c-1", ledger_id="l1", amounts=[5, 7])
    )
    assert isinstance(reply, CommandAccepted)
    assert [e.aggregate_version for e in reply.events] == [1, 2]
    assert reply.consistency_token == "LEDGER:2"
    assert reply.duplicate is False


async def test_same_command_twice_appends_once(
    server: CommandServer, nats_client: NATS, fixed_clock: FixedClock
) -> None:
    command = RecordEntries(command_id="c-dup", ledger_id="l2", amounts=[1, 2, 3])
    first = await send_command(nats_client, LEDGER, command)
    second = await send_command(nats_client, LEDGER, command)
    assert isinstance(first, CommandAccepted)
    assert isinstance(second, CommandAccepted)
    assert second.duplicate is True
    assert second.events == first.events
    assert await history(nats_client, fixed_clock, "l2") == [1, 2, 3]


async def test_lost_reply_then_retry_appends_once(
    nats_client: NATS, fixed_clock: FixedClock, server: CommandServer
) -> None:
    # The client gives up before reading the reply (as if the reply was lost), then retries.
    command = RecordEntries(command_id="c-lost", ledger_id="l3", amounts=[9])
    request = {
        "command_type": "RecordEntries",
        "command": command.model_dump(mode="json"),
        "actor": "t",
    }
    await nats_client.publish(LEDGER.command_subject("RecordEntries"), json.dumps(request).encode())
    # The first send is applied before the retry goes out (a sleep of 0.3 s only hoped so: on
    # a loaded machine the retry could be the first to arrive, and no reply was ever lost).
    deadline = asyncio.get_running_loop().time() + 120
    while await history(nats_client, fixed_clock, "l3") != [9]:
        assert asyncio.get_running_loop().time() < deadline, "the first send was never applied"
        await asyncio.sleep(0.02)
    retry = await send_command(nats_client, LEDGER, command)
    assert isinstance(retry, CommandAccepted)
    assert retry.duplicate is True
    assert await history(nats_client, fixed_clock, "l3") == [9]


async def test_retry_after_dedup_window_and_without_kv_record_appends_once(
    nats_client: NATS, fixed_clock: FixedClock
) -> None:
    # Beyond the broker's dedup window the Msg-Id no longer protects us, and with the
    # processed-command record lost too, the aggregate's own events still do.
    service = ledger_service(nats_client, fixed_clock)
    await service.start()
    command = RecordEntries(command_id="c-old", ledger_id="l4", amounts=[4])
    request = {"command_type": "RecordEntries", "command": command.model_dump(mode="json")}
    first = parse_reply(
        await service.handle(LEDGER.command_subject("RecordEntries"), json.dumps(request).encode())
    )
    assert isinstance(first, CommandAccepted)
    js = nats_client.jetstream()
    await js.delete_key_value("processed-commands-ledger")
    stream = await js.stream_info(LEDGER.stream)
    stream.config.duplicate_window = 0.1  # expire the broker's dedup window now
    await js.update_stream(stream.config)
    await asyncio.sleep(0.3)
    fresh = ledger_service(nats_client, fixed_clock)
    await fresh.start()
    again = parse_reply(
        await fresh.handle(LEDGER.command_subject("RecordEntries"), json.dumps(request).encode())
    )
    assert isinstance(again, CommandAccepted)
    assert again.duplicate is True
    assert await history(nats_client, fixed_clock, "l4") == [4]


async def test_command_id_reused_for_a_different_command_is_rejected(
    server: CommandServer, nats_client: NATS
) -> None:
    await send_command(
        nats_client, LEDGER, RecordEntries(command_id="c-re", ledger_id="l5", amounts=[1])
    )
    reply = await send_command(
        nats_client, LEDGER, RecordEntries(command_id="c-re", ledger_id="l5", amounts=[2])
    )
    assert isinstance(reply, CommandRejected)
    assert reply.code == "COMMAND_ID_REUSED"


async def test_rule_violation_is_rejected_with_its_code(
    server: CommandServer, nats_client: NATS
) -> None:
    reply = await send_command(
        nats_client, LEDGER, RecordEntries(command_id="c-0", ledger_id="l6", amounts=[0])
    )
    assert isinstance(reply, CommandRejected)
    assert (reply.code, reply.message) == ("ZERO_ENTRY", "a ledger entry of zero is meaningless")


@pytest.mark.parametrize(
    ("subject", "body", "code", "fragment"),
    [
        (
            "ledger.commands.RecordEntries",
            b"not json",
            "MALFORMED_COMMAND",
            "invalid command request",
        ),
        ("ledger.commands.RecordEntries", b'{"command": {}}', "MALFORMED_COMMAND", "command_type"),
        (
            "ledger.commands.RecordEntries",
            b'{"command_type": "Other", "command": {}}',
            "MALFORMED_COMMAND",
            "does not match subject",
        ),
        (
            "ledger.commands.Explode",
            b'{"command_type": "Explode", "command": {}}',
            "UNKNOWN_COMMAND",
            "Explode",
        ),
        (
            "ledger.commands.RecordEntries",
            b'{"command_type": "RecordEntries", "command": {"command_id": "x", "ledger_id": "l", "amounts": []}}',
            "INVALID_COMMAND",
            "amounts",
        ),
        (
            "ledger.commands.RecordEntries",
            b'{"command_type": "RecordEntries", "command": {"command_id": "a.b", "ledger_id": "l", "amounts": [1]}}',
            "INVALID_COMMAND",
            "command_id",
        ),
    ],
)
async def test_malformed_and_unknown_commands_are_rejected_and_service_keeps_serving(
    server: CommandServer, nats_client: NATS, subject: str, body: bytes, code: str, fragment: str
) -> None:
    data = await request_reply(nats_client, subject, body, timeout=5)
    reply = parse_reply(data)
    assert isinstance(reply, CommandRejected)
    assert reply.code == code
    assert fragment in reply.message
    still = await send_command(
        nats_client, LEDGER, RecordEntries(command_id=f"ok-{code}", ledger_id="ok", amounts=[1])
    )
    assert isinstance(still, CommandAccepted)


async def test_concurrent_commands_on_one_aggregate_all_land_in_order(
    server: CommandServer, nats_client: NATS, fixed_clock: FixedClock
) -> None:
    # One service process: its commands on one aggregate queue instead of racing into
    # conflicts, so a burst never exhausts the retries, however loaded the machine.
    replies = await asyncio.gather(
        *(
            send_command(
                nats_client,
                LEDGER,
                RecordEntries(command_id=f"cc-{i}", ledger_id="busy", amounts=[i + 1]),
                # The 200th waits for the 199 queued ahead of it: 10 s (the default) was too
                # short beside a full suite at load 25-30 (a timeout, no rejection).
                timeout=120,
            )
            for i in range(200)
        )
    )
    assert [r.code for r in replies if isinstance(r, CommandRejected)] == []
    loaded = await EventStore(nats_client, fixed_clock).load(LEDGER, "ledger", "busy")
    assert [e.envelope.aggregate_version for e in loaded.events] == list(range(1, 201))
    assert sorted(e.envelope.payload["amount"] for e in loaded.events) == list(range(1, 201))


async def test_faststream_entry_point_serves_commands(
    nats_server: NatsServer, nats_client: NATS
) -> None:
    clock = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))

    async def make(store: EventStore, nc: NATS, _clock: object) -> CommandService:
        return CommandService(LEDGER, store, clock, ROUTES, EVENT_TYPES)

    app, _broker = build_service_app("ledger", make, NatsSettings(nats_url=nats_server.url), clock)
    await app.start()
    try:
        reply = await send_command(
            nats_client, LEDGER, RecordEntries(command_id="fs-1", ledger_id="fs", amounts=[3])
        )
        assert isinstance(reply, CommandAccepted)
        bad = parse_reply(
            await request_reply(nats_client, "ledger.commands.RecordEntries", b"{", timeout=5)
        )
        assert isinstance(bad, CommandRejected)
        assert bad.code == "MALFORMED_COMMAND"
    finally:
        await app.stop()
