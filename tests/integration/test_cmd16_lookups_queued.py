"""The processed-command lookups of a loop turn are queued on the connection by a plain loop
callback once their inbox is subscribed (`DirectLookups`, `flushing.queue_publish`): no task
and no coroutine of nats-py's `publish` per bucket and turn (cmd16: ~2% of a c1 command's
CPU with three contexts' buckets). The answers are the same as `get`'s, one request per
turn, and a connection that cannot send fails each lookup as `publish` would have. On a
real JetStream server."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any

import nats.errors
import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from contracts_schema.subjects import ENROLMENT, REGISTRY
from eventstore.flushing import flushed
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
    assert await registry.lookup("warm", 2.0) is None
    assert await enrolment.lookup("warm", 2.0) is None
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
            registry.lookup("r-1", 2.0),
            registry.lookup("e-1", 2.0),
            enrolment.lookup("r-1", 2.0),
            enrolment.lookup("e-1", 2.0),
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
    assert await record.lookup("warm", 2.0) is None  # subscribed: the queued path
    await nc.close()

    with pytest.raises(nats.errors.ConnectionClosedError):
        await record.lookup("any-1", 2.0)
