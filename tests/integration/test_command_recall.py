"""The processed-command lookups on a real JetStream, as the hot path now asks them: the
decision is computed while they are under way, and the pre-uniqueness key `<context>.<id>`
is asked only where the bucket holds such keys. Neither may let a known command id append."""

from __future__ import annotations

import json

from nats.aio.client import Client as NATS

from contracts_schema.replies import CommandAccepted, CommandRejected
from eventstore.clock import FixedClock
from eventstore.commands import CommandService
from eventstore.processed import KeyValueProcessedCommands, LegacyKeys
from eventstore.service_app import serve_in_process
from eventstore.serving import send_command
from eventstore.store import EventStore
from tests.support.ledger import EVENT_TYPES, LEDGER, ROUTES, RecordEntries


def ledger_service(nc: NATS, clock: FixedClock) -> CommandService:
    return CommandService(LEDGER, EventStore(nc, clock), clock, ROUTES, EVENT_TYPES)


async def amounts(nc: NATS, clock: FixedClock, ledger_id: str) -> list[int]:
    loaded = await EventStore(nc, clock).load(LEDGER, "ledger", ledger_id)
    return [e.envelope.payload["amount"] for e in loaded.events]


async def test_an_id_used_on_another_aggregate_appends_nothing_on_a_warm_one(
    nats_client: NATS, fixed_clock: FixedClock
) -> None:
    # The second ledger is cached (warm): its decision succeeds while the lookup runs, and
    # the lookup's answer (the id is used) still comes first: nothing is appended.
    server = await serve_in_process(nats_client, [ledger_service(nats_client, fixed_clock)])
    try:
        for command_id, ledger in (("w-1", "wa"), ("w-2", "wb")):
            reply = await send_command(
                nats_client,
                LEDGER,
                RecordEntries(command_id=command_id, ledger_id=ledger, amounts=[1]),
            )
            assert isinstance(reply, CommandAccepted)
        reused = await send_command(
            nats_client, LEDGER, RecordEntries(command_id="w-1", ledger_id="wb", amounts=[2])
        )
        again = await send_command(
            nats_client, LEDGER, RecordEntries(command_id="w-1", ledger_id="wa", amounts=[1])
        )
    finally:
        await server.stop()
    assert isinstance(reused, CommandRejected)
    assert reused.code == "COMMAND_ID_REUSED"
    assert isinstance(again, CommandAccepted)
    assert again.duplicate is True
    assert await amounts(nats_client, fixed_clock, "wb") == [1]
    assert await amounts(nats_client, fixed_clock, "wa") == [1]


async def test_a_pre_uniqueness_record_in_the_bucket_is_still_found(
    nats_client: NATS, fixed_clock: FixedClock
) -> None:
    # A record written under `ledger.<id>` (before ids were unique across contexts): a
    # service started on that bucket asks for the old key, and the reused id appends nothing.
    record = await KeyValueProcessedCommands.open(nats_client, LEDGER)
    legacy = {"fingerprint": "0" * 64, "reply": {"command_id": "old-id", "events": []}}
    await record.put("ledger.old-id", json.dumps(legacy).encode())
    server = await serve_in_process(nats_client, [ledger_service(nats_client, fixed_clock)])
    try:
        reply = await send_command(
            nats_client, LEDGER, RecordEntries(command_id="old-id", ledger_id="lo", amounts=[3])
        )
    finally:
        await server.stop()
    assert isinstance(reply, CommandRejected)
    assert reply.code == "COMMAND_ID_REUSED"
    assert await amounts(nats_client, fixed_clock, "lo") == []


async def test_legacy_keys_are_looked_for_again_after_the_recheck(nats_client: NATS) -> None:
    now = [0.0]
    record = await KeyValueProcessedCommands.open(nats_client, LEDGER)
    await record.put("plain-id", b"{}")  # a current key is not a pre-uniqueness one
    keys = LegacyKeys(record, LEDGER, recheck=5.0, monotonic=lambda: now[0])
    await keys.look()
    assert keys.possible() is False
    await record.put("ledger.late-id", b"{}")  # an older process writes one meanwhile
    now[0] = 4.0
    assert keys.possible() is False  # within the recheck: the last answer stands
    now[0] = 6.0
    keys.possible()  # stale: looked for again in the background
    await keys._checking  # type: ignore[misc]  # (the background look, awaited here)
    assert keys.possible() is True


async def test_a_record_that_cannot_say_is_always_asked(fixed_clock: FixedClock) -> None:
    from eventstore.memory import InMemoryEventStore

    keys = LegacyKeys(InMemoryEventStore(fixed_clock).processed_commands, LEDGER)
    await keys.look()
    assert keys.possible() is True
