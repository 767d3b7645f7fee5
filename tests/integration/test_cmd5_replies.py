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
from contracts_schema.replies import CommandRequest
from contracts_schema.subjects import REGISTRY
from eventstore.flushing import flushed
from eventstore.inbox import Replies
from eventstore.processed import KeyValueProcessedCommands
from eventstore.serving import request_payload
from eventstore.testing.fixtures import connect
from eventstore.testing.nats_server import NatsServer


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
