"""cmd21 (review20c's doubt 1): a group import's processed-command records go on the wire
before its reply, as a single command's record does (`CommandService._remember`).

The record mirrors (cmd19/cmd20) trust protocol order: a record written by one process
before it sent its reply reaches every other connection before any command a caller sends
after reading that reply. `RegistryCommandService._record_all` wrote through
`RecordWrites.write`, whose publish happens in a task of its own, a loop turn later: on a
re-run (nothing new to store, records repaired) the reply was published first, and so was
the first group's on a service that had written no record yet (the task waits for its
inbox's subscription).

Seen here as one connection sees it: the client's own connection subscribes to the registry
bucket's subjects and takes the group's reply on an inbox of its own, both as read
(`inbox.Sink`, in the order the server sends them: what one publisher sent, in its order).
Real JetStream, the registry served in this process over NATS."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from bootstrap.parts import registry_service
from contracts_schema.registry.import_commands import ImportReleaseGroup
from contracts_schema.subjects import REGISTRY
from eventstore.clock import SystemClock
from eventstore.inbox import subscribe_sink
from eventstore.processed import processed_bucket
from eventstore.service_app import CommandServer, serve_in_process, server_url
from eventstore.store import EventStore
from eventstore.testing.fixtures import connect
from tests.service.test_ocds_import_group import _group, _one_plan

GROUP = REGISTRY.command_subject(ImportReleaseGroup.command_type)
PREFIX = f"$KV.{processed_bucket(REGISTRY)}."
BOUND = 30.0  # a hang's bound, not a speed


@pytest.fixture
async def registry(nats_client: NATS) -> AsyncIterator[CommandServer]:
    """Served as a service process serves: its store's connection is the one its commands
    and replies use (`service_app.build_service_app`), not the test's."""
    clock = SystemClock()
    nc = await connect(server_url(nats_client))
    try:
        server = await serve_in_process(nc, [registry_service(EventStore(nc, clock), clock)])
        yield server
        await server.stop()
    finally:
        await nc.close()


class Wire:
    """What the client's connection receives, in order: the group's reply and the records
    published on the registry bucket's subjects."""

    def __init__(self, nc: NATS) -> None:
        self._nc = nc
        self.seen: list[str] = []  # "reply", or a record's key
        self._replied = asyncio.Event()
        self._more = asyncio.Event()  # a record seen since the last look
        self.reply = b""
        self._inbox = nc.new_inbox()

    async def start(self) -> None:
        await subscribe_sink(self._nc, PREFIX + ">", self._record)
        await subscribe_sink(self._nc, self._inbox, self._reply)
        await self._nc.flush()

    def _record(self, msg: Msg) -> None:
        self.seen.append(msg.subject[len(PREFIX) :])
        self._more.set()

    def _reply(self, msg: Msg) -> None:
        self.seen.append("reply")
        self.reply = msg.data
        self._replied.set()

    async def ask(self, body: bytes) -> dict[str, object]:
        await self._nc.publish(GROUP, body, reply=self._inbox)
        async with asyncio.timeout(BOUND):
            await self._replied.wait()
        answer: dict[str, object] = json.loads(self.reply)
        return answer

    async def until_records(self, keys: set[str]) -> None:
        async with asyncio.timeout(BOUND):
            while not keys <= set(self.seen):
                self._more.clear()
                await self._more.wait()


def _accepted_ids(reply: dict[str, object]) -> list[str]:
    processes = reply["processes"]
    assert isinstance(processes, list)
    ids = [
        r["command_id"]
        for p in processes
        for o in p["releases"]
        for r in o["replies"]
        if r["status"] == "accepted"
    ]
    assert len(ids) == len(processes)  # every release accepted
    assert ids
    return ids


async def test_a_first_groups_records_precede_its_reply(
    nats_client: NATS, registry: CommandServer
) -> None:
    """The service's first write of any record (its inbox not yet subscribed)."""
    wire = Wire(nats_client)
    await wire.start()
    reply = await wire.ask(
        _group("g-first", *(_one_plan(f"ocds-first-{n}", n + 1) for n in range(3)))
    )
    ids = _accepted_ids(reply)
    await wire.until_records(set(ids))
    # Every record of the group reached this connection before the reply did.
    assert wire.seen.index("reply") == len(ids), wire.seen
    assert set(wire.seen[: len(ids)]) == set(ids)
    # And a second group's (its inbox subscribed by now: the task's turn came first).
    later = Wire(nats_client)
    await later.start()
    again = _accepted_ids(await later.ask(_group("g-later", _one_plan("ocds-later", 4))))
    await later.until_records(set(again))
    assert later.seen.index("reply") == len(again), later.seen


async def test_a_re_runs_repaired_records_precede_its_reply(
    nats_client: NATS, registry: CommandServer
) -> None:
    """A re-run whose records were lost: nothing new stored, the records written again from
    the events (`process.count == 0`, the repairs)."""
    plans = [_one_plan(f"ocds-rerun-{n}", n + 1) for n in range(3)]
    first = Wire(nats_client)
    await first.start()
    ids = _accepted_ids(await first.ask(_group("g-rerun", *plans)))
    await first.until_records(set(ids))
    kv = await nats_client.jetstream().key_value(processed_bucket(REGISTRY))
    for key in ids:
        await kv.delete(key)  # the records lost (the events are the truth)
    again = Wire(nats_client)
    await again.start()
    reply = await again.ask(_group("g-rerun", *plans))
    repaired = _accepted_ids(reply)
    assert sorted(repaired) == sorted(ids)
    processes = reply["processes"]
    assert isinstance(processes, list)
    assert all(
        r["duplicate"] for p in processes for o in p["releases"] for r in o["replies"]
    )  # nothing new stored
    await again.until_records(set(ids))
    assert again.seen.index("reply") == len(ids), again.seen
    assert set(again.seen[: len(ids)]) == set(ids)
    for key in ids:  # the records are there again
        assert json.loads((await kv.get(key)).value or b"{}")["context"] == REGISTRY.name
