"""Replies taken as nats-py reads them (`eventstore.inbox`): a request answers as
`nc.request` does (the reply, a timeout, no responders), a record written by `send` is queued
on the connection before what the caller publishes next (a command's reply), and a sender's
request carries what `CommandRequest` would. On a real NATS server."""

from __future__ import annotations

import asyncio
import json
from datetime import date

import nats.errors
import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from bench.workload import AmendContract
from contracts_schema.replies import CommandAccepted, CommandRequest
from contracts_schema.subjects import REGISTRY, command_partition
from eventstore import inbox
from eventstore.clock import FixedClock
from eventstore.commands import CommandService
from eventstore.flushing import flushed
from eventstore.inbox import Replies
from eventstore.processed import KeyValueProcessedCommands
from eventstore.service_app import serve_in_process
from eventstore.serving import request_payload, request_reply
from eventstore.store import EventStore
from eventstore.testing.fixtures import connect
from eventstore.testing.nats_server import NatsServer
from tests.support.ledger import EVENT_TYPES, LEDGER, ROUTES, RecordEntries


async def test_a_request_is_answered_timed_out_or_unheard_as_nc_request(
    nats_server: NatsServer, nats_client: NATS
) -> None:
    responder = await connect(nats_server.url)

    async def echo(msg: Msg) -> None:
        await responder.publish(msg.reply, b"re:" + msg.data, headers={"Seen": "1"})

    await responder.subscribe("echo", cb=echo)

    async def ignore(_msg: Msg) -> None:
        return None

    await responder.subscribe("silent", cb=ignore)
    await flushed(responder)
    replies = Replies(nats_client)

    answers = await asyncio.gather(
        *(replies.request("echo", f"{i}".encode(), timeout=2.0) for i in range(50))
    )

    assert [a.data for a in answers] == [f"re:{i}".encode() for i in range(50)]
    assert answers[0].headers == {"Seen": "1"}
    with pytest.raises(nats.errors.TimeoutError):
        await replies.request("silent", b"", timeout=0.2)
    with pytest.raises(nats.errors.NoRespondersError):
        await replies.request("nobody.listens", b"", timeout=2.0)
    assert (await replies.request("echo", b"after", timeout=2.0)).data == b"re:after"
    await responder.close()


async def test_a_failed_subscribe_is_tried_again_by_the_next_request(
    nats_server: NatsServer, nats_client: NATS, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The reply subscription's first attempt fails (as on a connection closing); the requests
    # waiting on it fail with it, and the next request subscribes again instead of repeating
    # the stale failure.
    responder = await connect(nats_server.url)

    async def echo(msg: Msg) -> None:
        await responder.publish(msg.reply, b"re:" + msg.data)

    await responder.subscribe("echo", cb=echo)
    await flushed(responder)
    real_subscribe = inbox.subscribe_sink
    attempts: list[str] = []

    async def failing_once(nc: NATS, subject: str, handle: object) -> object:
        attempts.append(subject)
        if len(attempts) == 1:
            await asyncio.sleep(0.01)
            raise nats.errors.ConnectionClosedError
        return await real_subscribe(nc, subject, handle)  # type: ignore[arg-type]

    monkeypatch.setattr(inbox, "subscribe_sink", failing_once)
    replies = Replies(nats_client)

    first = await asyncio.gather(
        replies.request("echo", b"1", timeout=2.0),
        replies.request("echo", b"2", timeout=2.0),
        return_exceptions=True,
    )

    assert [type(r) for r in first] == [nats.errors.ConnectionClosedError] * 2
    assert (await replies.request("echo", b"3", timeout=2.0)).data == b"re:3"
    assert (await replies.request("echo", b"4", timeout=2.0)).data == b"re:4"
    assert len(attempts) == 2


async def test_a_record_sent_is_on_the_wire_before_what_follows_it(
    nats_server: NatsServer, nats_client: NATS
) -> None:
    record = await KeyValueProcessedCommands.open(nats_client, REGISTRY)
    watcher = await connect(nats_server.url)
    seen: list[str] = []

    async def keep(msg: Msg) -> None:
        if msg.subject.startswith(("$KV.processed-commands-registry.", "after.")):
            seen.append(msg.subject)

    await watcher.subscribe(">", cb=keep)  # one subscription: one order, as published
    await flushed(watcher)

    written = []
    for i in range(20):
        written.append(await record.send(f"k-{i}", b"v", 2.0))
        await nats_client.publish(f"after.{i}", b"")  # as a command's reply follows its record
    await asyncio.gather(*written)
    await flushed(nats_client)
    await flushed(watcher)

    expected = [
        s for i in range(20) for s in (f"$KV.processed-commands-registry.k-{i}", f"after.{i}")
    ]
    assert seen == expected
    assert [await record.get(f"k-{i}") for i in range(20)] == [b"v"] * 20
    await watcher.close()


@pytest.mark.parametrize(
    ("actor", "correlation_id"),
    [("bench", None), ('an "odd" actör\n', "corr-1"), ("ünïcode", 'quote"s')],
)
def test_a_request_payload_reads_as_the_command_request(
    actor: str, correlation_id: str | None
) -> None:
    command = AmendContract(
        command_id="c-1", contract_id="k-1", summary="indexatie €", amended_on=date(2026, 1, 2)
    )

    payload = request_payload(command, actor, correlation_id)

    expected = CommandRequest(
        command_type="AmendContract",
        command=command.model_dump(mode="json"),
        actor=actor,
        correlation_id=correlation_id,
    )
    assert CommandRequest.model_validate_json(payload) == expected
    assert json.loads(payload) == json.loads(expected.model_dump_json())


async def test_a_reply_serialised_once_reads_as_pydantic_writes_it(
    nats_client: NATS, fixed_clock: FixedClock
) -> None:
    # The accepted reply's JSON is made from the record's (`duplicate` added), not dumped twice:
    # byte for byte what `model_dump_json` gives, a new command and its duplicate alike.
    service = CommandService(
        LEDGER, EventStore(nats_client, fixed_clock), fixed_clock, ROUTES, EVENT_TYPES
    )
    server = await serve_in_process(nats_client, [service])
    try:
        raws = []
        for amounts in ([1, 2], [3], [1, 2]):  # the third is the first again: a duplicate
            command_id = "r-1" if amounts == [1, 2] else "r-2"
            command = RecordEntries(command_id=command_id, ledger_id="lr", amounts=amounts)
            payload = request_payload(command, "test", None)
            raws.append(
                await request_reply(
                    nats_client,
                    LEDGER.partitioned_command_subject("RecordEntries", command_partition("lr")),
                    payload,
                )
            )
    finally:
        await server.stop()
    replies = [CommandAccepted.model_validate_json(raw) for raw in raws]
    assert [r.duplicate for r in replies] == [False, False, True]
    assert raws == [r.model_dump_json().encode() for r in replies]
    assert replies[2].events == replies[0].events
