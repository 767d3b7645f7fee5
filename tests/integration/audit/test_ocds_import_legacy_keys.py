"""A group commit asks for its commands' pre-uniqueness keys (`registry.<id>`) only where the
record may hold such keys (`processed.LegacyKeys`), as a command alone does: on a record
that holds none, one lookup per command fewer (the registry's futures and the server's
multi-subject Direct Get alike). Where it may, they are asked, and still answer."""

from __future__ import annotations

import json

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from audit.ocds.importer import Report, import_items
from audit.ocds.importer_read import read
from bootstrap.parts import registry_service
from contracts_schema.subjects import REGISTRY
from eventstore.clock import SystemClock
from eventstore.processed import KeyValueProcessedCommands, processed_bucket
from eventstore.service_app import CommandServer, serve_in_process, server_url
from eventstore.serving import request_reply
from eventstore.store import EventStore
from tests.service.test_ocds_import_group import package

LEGACY = f"$KV.{processed_bucket(REGISTRY)}.{REGISTRY.name}."


async def _asked(nats_client: NATS) -> tuple[list[str], Report]:
    """The record's subjects asked by Direct Get while an import runs."""
    subjects: list[str] = []

    async def on_direct(msg: Msg) -> None:
        body = json.loads(msg.data)
        subjects.extend(body.get("multi_last") or [body.get("last_by_subj", "")])

    records = f"KV_{processed_bucket(REGISTRY)}"
    watched = await nats_client.subscribe(f"$JS.API.DIRECT.GET.{records}", cb=on_direct)
    store = EventStore(nats_client, SystemClock())

    async def request(subject: str, data: bytes) -> bytes:
        return await request_reply(nats_client, subject, data, timeout=60)

    report = await import_items(read(package(), "fixture"), request, store)
    await nats_client.flush()
    await watched.unsubscribe()
    return subjects, report


async def test_a_group_commit_asks_no_pre_uniqueness_key_of_a_record_holding_none(
    nats_client: NATS, registry: CommandServer
) -> None:
    subjects, report = await _asked(nats_client)
    assert (report.imported, report.skipped) == (18, [])
    assert subjects  # the group's records were asked together
    assert [s for s in subjects if s.startswith(LEGACY)] == []


async def test_a_group_commit_asks_them_where_the_record_holds_some(nats_client: NATS) -> None:
    record = await KeyValueProcessedCommands.open(nats_client, REGISTRY)
    await record.put(f"{REGISTRY.name}.an-old-id", b"{}")  # written before ids were unique
    clock = SystemClock()
    server = await serve_in_process(
        server_url(nats_client), [registry_service(EventStore(nats_client, clock), clock)]
    )
    try:
        subjects, report = await _asked(nats_client)
    finally:
        await server.stop()
    assert (report.imported, report.skipped) == (18, [])
    assert [s for s in subjects if s.startswith(LEGACY)]
