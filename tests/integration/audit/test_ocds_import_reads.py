"""A group commit's reads on a real JetStream: the group's processed-command records and
aggregates are asked by multi-subject Direct Gets, not by an ephemeral consumer each (whose
creation cost the server ~25 times the CPU and a round trip of its own); a re-run is still
answered as duplicates from what those reads found."""

from __future__ import annotations

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from audit.ocds.importer import import_items
from audit.ocds.importer_read import read
from contracts_schema.registry.import_commands import (
    ImportReleaseGroup,
    ProcessReleasesImported,
    ReleaseGroupImported,
)
from contracts_schema.replies import CommandAccepted
from contracts_schema.subjects import REGISTRY
from eventstore.clock import SystemClock
from eventstore.processed import processed_bucket
from eventstore.service_app import CommandServer
from eventstore.serving import request_reply
from eventstore.store import EventStore
from tests.service.test_ocds_import_group import package

GROUP = REGISTRY.command_subject(ImportReleaseGroup.command_type)


async def test_a_group_commit_reads_by_direct_gets_and_creates_no_consumer(
    nats_client: NATS, registry: CommandServer
) -> None:
    created: list[str] = []
    direct: list[str] = []

    async def on_create(msg: Msg) -> None:
        created.append(msg.subject)

    async def on_direct(msg: Msg) -> None:
        direct.append(msg.subject)

    # What the server is asked (a subscriber sees each request beside the server).
    records = f"KV_{processed_bucket(REGISTRY)}"
    watched = [
        await nats_client.subscribe("$JS.API.CONSUMER.CREATE.>", cb=on_create),
        await nats_client.subscribe(f"$JS.API.DIRECT.GET.{REGISTRY.stream}", cb=on_direct),
        await nats_client.subscribe(f"$JS.API.DIRECT.GET.{records}", cb=on_direct),
    ]
    store = EventStore(nats_client, SystemClock())

    groups: list[bytes] = []

    async def request(subject: str, data: bytes) -> bytes:
        if subject.endswith(".ImportReleaseGroup"):  # on a partition's subject, or not
            groups.append(data)
        return await request_reply(nats_client, subject, data, timeout=60)

    report = await import_items(read(package(), "fixture"), request, store)
    assert (report.imported, report.skipped) == (18, [])
    stored = [e async for e in store.read_stream(REGISTRY)]
    assert groups
    for data in groups:  # sent again: each command answered from the records read together
        reply = ReleaseGroupImported.model_validate_json(
            await request_reply(nats_client, GROUP, _replies_asked(data), timeout=60)
        )
        for process in reply.processes:
            assert isinstance(process, ProcessReleasesImported)
            replies = [r for o in process.releases for r in o.replies]
            assert all(isinstance(r, CommandAccepted) and r.duplicate for r in replies)
    await nats_client.flush()
    for sub in watched:
        await sub.unsubscribe()
    assert created == []
    assert f"$JS.API.DIRECT.GET.{records}" in direct  # the records, asked together
    assert f"$JS.API.DIRECT.GET.{REGISTRY.stream}" in direct  # the aggregates
    assert [e async for e in store.read_stream(REGISTRY)] == stored


def _replies_asked(payload: bytes) -> bytes:
    """A group message as the importer sent it, asking for every command's reply instead of
    the counts the importer asks for (`answer`), so that each event's placement is read."""
    return payload.replace(b',"answer":"counts"', b"")
