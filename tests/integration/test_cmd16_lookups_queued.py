"""The processed-command lookups of a loop turn are queued on the connection by a plain loop
callback once their inbox is subscribed (`DirectLookups`, `flushing.queue_publish`): no task
and no coroutine of nats-py's `publish` per bucket and turn (cmd16: ~2% of a c1 command's
CPU with three contexts' buckets). The answers are the same as `get`'s, one request per
turn, and a connection that cannot send fails each lookup as `publish` would have. On a
real JetStream server."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from pathlib import Path
from typing import Any

import nats.errors
import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from contracts_schema.subjects import ENROLMENT, REGISTRY
from eventstore.flushing import flushed, queue_publish
from eventstore.nats_launcher import NatsServer as ConfiguredNatsServer
from eventstore.processed import KeyValueProcessedCommands
from eventstore.testing.fixtures import connect
from eventstore.testing.nats_server import NatsServer


class _TasksMade:
    """Counts the tasks the running loop makes (its task factory), making them as it would."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(
        self,
        loop: asyncio.AbstractEventLoop,
        coro: Generator[Any, None, Any] | Coroutine[Any, Any, Any],
    ) -> asyncio.Future[Any]:
        self.count += 1
        return asyncio.Task(coro, loop=loop)


async def test_a_turns_lookups_of_two_buckets_leave_without_a_task(
    nats_server: NatsServer, nats_client: NATS
) -> None:
    registry = await KeyValueProcessedCommands.open(nats_client, REGISTRY)
    enrolment = await KeyValueProcessedCommands.open(nats_client, ENROLMENT)
    await registry.put("r-1", b"registry's")
    await enrolment.put("e-1", b"enrolment's")
    # The first lookups subscribe each bucket's answer inbox (a task, as before).
    assert await registry.lookup("warm", 60.0) is None
    assert await enrolment.lookup("warm", 60.0) is None
    spy = await connect(nats_server.url)
    requests: list[Msg] = []

    async def keep(msg: Msg) -> None:
        requests.append(msg)

    await spy.subscribe("$JS.API.DIRECT.GET.>", cb=keep)
    await flushed(spy)
    loop = asyncio.get_running_loop()
    tasks = _TasksMade()
    loop.set_task_factory(tasks)
    try:
        lookups = [
            registry.lookup("r-1", 60.0),
            registry.lookup("e-1", 60.0),
            enrolment.lookup("r-1", 60.0),
            enrolment.lookup("e-1", 60.0),
        ]
        answers = [await lookup for lookup in lookups]
    finally:
        loop.set_task_factory(None)

    assert answers == [b"registry's", None, None, b"enrolment's"]
    assert tasks.count == 0  # before cmd16: one per bucket (`DirectLookups._send`)
    await flushed(nats_client)
    await flushed(spy)
    assert sorted(m.subject.rsplit(".", 1)[-1] for m in requests) == sorted(
        [registry._kv._stream, enrolment._kv._stream]
    )  # one request per bucket for the turn's lookups
    await spy.close()


async def test_a_lookup_on_a_closed_connection_fails_as_publish_does(
    nats_server: NatsServer,
) -> None:
    nc = await connect(nats_server.url)
    record = await KeyValueProcessedCommands.open(nc, REGISTRY)
    assert await record.lookup("warm", 60.0) is None  # subscribed: the queued path
    await nc.close()

    with pytest.raises(nats.errors.ConnectionClosedError):
        await record.lookup("any-1", 2.0)


async def test_a_turns_lookups_over_the_servers_max_payload_are_split_not_refused(
    tmp_path: Path,
) -> None:
    # 256 ids at their 128-character limit in one turn: one multi-key request would be
    # ~39 KB, over a 32 KB max_payload; sent, the server drops the whole connection.
    config, store = tmp_path / "nats.conf", tmp_path / "jetstream"
    config.write_text(f'jetstream {{ store_dir: "{store}" }}\nmax_payload: {32 * 1024}\n')
    server = ConfiguredNatsServer(store, config_file=config).start()
    try:
        nc = await connect(server.url)
        record = await KeyValueProcessedCommands.open(nc, REGISTRY)
        ids = [f"{n:03d}-" + "x" * 124 for n in range(256)]
        await record.put(ids[7], b"stored")
        assert await record.lookup("warm", 60.0) is None  # subscribed: the queued path
        answers = await asyncio.gather(*(record.lookup(i, 60.0) for i in ids))
        assert answers[7] == b"stored"
        assert answers.count(None) == 255
        assert nc.is_connected  # not dropped by the server
        await nc.close()
    finally:
        server.stop()


async def test_a_payload_over_the_servers_max_payload_is_refused_before_it_is_sent(
    nats_server: NatsServer, nats_client: NATS
) -> None:
    too_large = b"x" * (nats_client.max_payload + 1)
    with pytest.raises(nats.errors.MaxPayloadError):
        queue_publish(nats_client, "anything", "_INBOX.reply", too_large)
    await flushed(nats_client)
    assert nats_client.is_connected
