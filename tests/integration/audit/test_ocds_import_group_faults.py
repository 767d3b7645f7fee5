"""A group commit (`ImportReleaseGroup`) against a real JetStream, at its edges: a group over
its published bound is refused as a whole, and a batch whose append was stored but whose
reply was lost (a timeout) is answered as imported, not as a duplicate."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nats.aio.client import Client as NATS

from audit.ocds.importer import import_items
from audit.ocds.importer_read import read
from audit.ocds_cli import IMPORT_OK
from bootstrap.parts import registry_service
from contracts_schema.registry.import_commands import (
    ImportReleaseGroup,
    ProcessReleasesImported,
    ReleaseGroupImported,
)
from contracts_schema.replies import CommandAccepted, CommandRejected, CommandRequest
from contracts_schema.subjects import REGISTRY
from eventstore.clock import SystemClock
from eventstore.group_append import GroupedEvent
from eventstore.records import StoredEvent
from eventstore.service_app import CommandServer, serve_in_process, server_url
from eventstore.serving import request_reply
from eventstore.store import EventStore
from eventstore.testing.nats_server import NatsServer
from tests.integration.audit.test_ocds_import_cli import audit
from tests.service.test_ocds_import_group import package

GROUP = REGISTRY.command_subject(ImportReleaseGroup.command_type)
LIMIT = 1000  # `ImportReleaseGroup.processes`' max_length in the published schema


class LostReplyStore(EventStore):
    """A store whose group appends are stored and then fail as if the reply never came."""

    timed_out = 0

    async def append_group(self, events: Sequence[GroupedEvent]) -> list[StoredEvent]:
        await super().append_group(events)
        self.timed_out += 1
        raise TimeoutError("the batch's reply did not come")


async def test_a_group_over_its_bound_is_refused_naming_count_and_limit(
    nats_client: NATS, registry: CommandServer
) -> None:
    process = {"command_id": "p", "ocid": "ocds-x", "releases": []}
    command = {"command_id": "too-many", "processes": [process] * (LIMIT + 1)}
    request = CommandRequest(command_type=ImportReleaseGroup.command_type, command=command)
    # The client's own request (a service's subscription a moment late is waited for).
    data = await request_reply(nats_client, GROUP, request.model_dump_json().encode(), timeout=30)
    reply = CommandRejected.model_validate_json(data)
    assert reply.code == "INVALID_COMMAND"
    assert f"{LIMIT + 1} processes, at most {LIMIT}" in reply.message
    assert [e async for e in EventStore(nats_client, SystemClock()).read_stream(REGISTRY)] == []


async def test_a_group_stored_whose_reply_was_lost_is_answered_as_imported(
    nats_server: NatsServer, nats_client: NATS, tmp_path: Path
) -> None:
    clock = SystemClock()
    store = LostReplyStore(nats_client, clock)
    server = await serve_in_process(server_url(nats_client), [registry_service(store, clock)])
    try:
        source = tmp_path / "processes.jsonl"
        source.write_bytes(package())
        first = await audit(nats_server, source)
        assert store.timed_out > 0  # the group path was taken, and every batch "timed out"
        assert first.exit_code == IMPORT_OK, first.output
        assert "imported 18, skipped 0, duplicates 0" in first.output
        events = [e async for e in EventStore(nats_client, clock).read_stream(REGISTRY)]
        assert first.output.rstrip().endswith(f"({len(events)} events appended)")
        per_command = Counter((e.envelope.command_id, e.envelope.aggregate_id,
                               e.envelope.aggregate_version) for e in events)  # fmt: skip
        assert set(per_command.values()) == {1}  # each event stored once
        # A re-run: every release a duplicate, nothing stored.
        again = await audit(nats_server, source)
        assert "imported 0, skipped 0, duplicates 18" in again.output, again.output
        assert len([e async for e in EventStore(nats_client, clock).read_stream(REGISTRY)]) == len(
            events
        )
    finally:
        await server.stop()


def test_the_limit_here_is_the_published_one() -> None:
    schema = ImportReleaseGroup.model_json_schema()
    assert schema["properties"]["processes"]["maxItems"] == LIMIT


class CutDirectGets:
    """The registry's connection, its multi-subject Direct Gets asking for one message only:
    the server cuts every answer with more than one message short (204, some pending), as
    it cuts one over its own limits."""

    def __init__(self, nc: NATS) -> None:
        self._nc = nc
        self.cut: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._nc, name)

    async def publish(self, subject: str, payload: bytes = b"", reply: str = "", **kw: Any) -> None:
        if subject.startswith("$JS.API.DIRECT.GET.") and b"multi_last" in payload:
            self.cut.append(subject)
            payload = json.dumps({**json.loads(payload), "batch": 1}).encode()
        await self._nc.publish(subject, payload, reply, **kw)


async def test_a_group_whose_reads_together_come_back_short_reads_each_alone(
    nats_client: NATS,
) -> None:
    """Every read together of the registry's aggregates comes back cut short (so none is
    answered whole): the group's aggregates are then loaded one by one, and every answer is
    still the one of its own (a group sent again: each command a duplicate)."""
    clock = SystemClock()
    cutting = CutDirectGets(nats_client)
    robbed: Any = cutting
    server = await serve_in_process(
        server_url(nats_client), [registry_service(EventStore(robbed, clock), clock)]
    )
    groups: list[bytes] = []

    async def request(subject: str, data: bytes) -> bytes:
        if subject.endswith(".ImportReleaseGroup"):  # on a partition's subject, or not
            groups.append(data)
        return await request_reply(nats_client, subject, data, timeout=60)

    try:
        store = EventStore(nats_client, clock)
        report = await import_items(read(package(), "unknown publisher"), request, store)
        assert (report.imported, report.duplicates, report.skipped) == (18, 0, [])
        events = [e async for e in store.read_stream(REGISTRY)]
        assert groups
        for data in groups:  # sent again: its records and aggregates are there now
            reply = ReleaseGroupImported.model_validate_json(
                await request_reply(nats_client, GROUP, _replies_asked(data), timeout=60)
            )
            for process in reply.processes:
                assert isinstance(process, ProcessReleasesImported)
                replies = [r for o in process.releases for r in o.replies]
                assert all(isinstance(r, CommandAccepted) and r.duplicate for r in replies)
        assert cutting.cut  # the aggregates were asked together, and came back short
        assert [e async for e in store.read_stream(REGISTRY)] == events
    finally:
        await server.stop()


def _replies_asked(payload: bytes) -> bytes:
    """A group message as the importer sent it, asking for every command's reply instead of
    the counts the importer asks for (`answer`), so that each event's placement is read."""
    return payload.replace(b',"answer":"counts"', b"")
