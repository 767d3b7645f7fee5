"""The group commit's bulk-record lane (`registry/import_lane.py`) against a real JetStream:
fresh processes take it, and what it stores and answers is what the general command path
stores and answers (the same events, payloads and law findings, signed by the registry; the
same processed-command records); the same group sent again, even after a crash between the
append and the records, stores nothing and is answered as duplicates."""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NATS

from audit.ocds.importer import Report, import_items
from audit.ocds.importer_read import read
from bootstrap.parts import registry_service
from contracts_schema.registry.import_commands import ReleaseGroupImported
from contracts_schema.replies import CommandAccepted, CommandRejected
from contracts_schema.subjects import ENROLMENT, REGISTRY
from eventstore.clock import SystemClock
from eventstore.nats_launcher import NatsServer
from eventstore.processed import processed_commands_for
from eventstore.service_app import serve_in_process, server_url
from eventstore.serving import request_reply
from eventstore.signing import EventSigner, new_seed, signature_holds
from eventstore.store import EventStore
from registry import import_lane
from registry.import_service import RegistryCommandService
from tests.service.test_ocds_import_group import package

Sent = list[tuple[str, bytes]]


@pytest.fixture
def lane_taken(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The processes the lane recorded: each one's command ids."""
    taken: list[list[str]] = []
    record = import_lane.record

    async def counted(*args: Any) -> Any:
        found = await record(*args)
        if found is not None:
            taken.append([c.command_id for _, cs in found.releases for c in cs])
        return found

    monkeypatch.setattr(import_lane, "record", counted)
    return taken


async def _import(nc: NATS, data: bytes, sent: Sent | None = None) -> Report:
    async def request(subject: str, payload: bytes) -> bytes:
        if sent is not None and subject.endswith(".ImportReleaseGroup"):
            sent.append((subject, payload))
        return await request_reply(nc, subject, payload, timeout=60)

    return await import_items(read(data, "fixture"), request, EventStore(nc, SystemClock()))


async def _served(nc: NATS, seed: str) -> Callable[[], Awaitable[None]]:
    clock = SystemClock()
    store = EventStore(nc, clock, signers={"registry": EventSigner(seed)})
    server = await serve_in_process(server_url(nc), [registry_service(store, clock)])
    return server.stop


async def _stored(nc: NATS) -> list[dict[str, Any]]:
    """Every imported event as stored, without what differs between two runs."""
    varying = {"event_id", "hash", "prev_hash", "signature", "recorded_at", "correlation_id",
               "causation_id"}  # fmt: skip
    found = []
    async for e in EventStore(nc, SystemClock()).read_stream(REGISTRY):
        body = e.envelope.model_dump(mode="json")
        found.append({k: v for k, v in body.items() if k not in varying} | {"subject": e.subject})
    # Per aggregate in version order (the processes of a group go in any order).
    return sorted(found, key=lambda e: (e["aggregate_type"], e["aggregate_id"],
                                        e["aggregate_version"]))  # fmt: skip


async def _records(nc: NATS, command_ids: list[str]) -> list[dict[str, Any]]:
    record = await processed_commands_for(EventStore(nc, SystemClock()), REGISTRY)
    found = []
    for cid in command_ids:
        value = json.loads(await record.get(cid) or b"{}")
        found.append({k: v for k, v in value.items() if k != "reply"})
    return found


def _command_ids(events: list[dict[str, Any]]) -> list[str]:
    return sorted({e["command_id"] for e in events})


@pytest.fixture
async def second_server(tmp_path: Path) -> AsyncIterator[NATS]:
    """Another JetStream of its own, for the general path's run of the same import."""
    server = NatsServer(Path(tempfile.mkdtemp(dir=tmp_path))).start()
    try:
        nc = await nats.connect(server.url)
        try:
            yield nc
        finally:
            await nc.close()
    finally:
        server.stop()


async def test_the_lane_stores_and_records_what_the_general_path_does(
    nats_client: NATS,
    second_server: NATS,
    lane_taken: list[list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed = new_seed()
    stop = await _served(nats_client, seed)
    try:
        lane = await _import(nats_client, package())
    finally:
        await stop()
    assert lane_taken, "no process took the lane"
    taken = len(lane_taken)
    monkeypatch.setattr(import_lane, "fresh", lambda *args: False)
    stop = await _served(second_server, seed)
    try:
        general = await _import(second_server, package())
    finally:
        await stop()
    assert len(lane_taken) == taken  # (the second run went the general way)
    assert (lane.imported, lane.duplicates, lane.events, lane.skipped) == (
        general.imported, general.duplicates, general.events, general.skipped
    )  # fmt: skip
    ours, theirs = await _stored(nats_client), await _stored(second_server)
    assert ours == theirs
    assert any(
        f for e in ours if e["event_type"].endswith("ReleaseImported")
        for f in e["payload"]["findings"]
    ), "the fixture's law findings are recorded"  # fmt: skip
    ids = _command_ids(ours)
    assert await _records(nats_client, ids) == await _records(second_server, ids)
    # Signed by the registry's key, each hash over what is stored.
    async for e in EventStore(nats_client, SystemClock()).read_stream(REGISTRY):
        assert e.envelope.signer == EventSigner(seed).public_key
        assert e.envelope.signature is not None
        assert signature_holds(e.envelope.signer, e.envelope.hash, e.envelope.signature)


async def _resend(nc: NATS, sent: Sent) -> list[CommandAccepted]:
    replies = []
    for subject, payload in sent:
        data = await request_reply(nc, subject, _replies_asked(payload), timeout=60)
        group = ReleaseGroupImported.model_validate_json(data)
        for process in group.processes:
            assert not hasattr(process, "code"), process
            for outcome in process.releases:  # type: ignore[union-attr]
                for reply in outcome.replies:
                    assert isinstance(reply, CommandAccepted), reply
                    replies.append(reply)
    return replies


async def test_the_same_groups_again_store_nothing_and_are_duplicates(
    nats_client: NATS, lane_taken: list[list[str]]
) -> None:
    stop = await _served(nats_client, new_seed())
    try:
        sent: Sent = []
        await _import(nats_client, package(), sent)
        assert sent
        assert lane_taken
        before = await _stored(nats_client)
        taken = len(lane_taken)
        again = await _resend(nats_client, sent)
        assert again
        assert all(r.duplicate for r in again)
        assert await _stored(nats_client) == before
        assert len(lane_taken) == taken  # nothing fresh the second time
    finally:
        await stop()


async def _no_records(self: RegistryCommandService, records: list[tuple[str, bytes]]) -> None:
    """`_record_all` of a process that stops before it writes the records."""


async def test_after_a_crash_between_append_and_records_a_resend_stores_nothing(
    nats_client: NATS, lane_taken: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The events are stored but no processed-command record is written (the process
    stopped in between): the same groups again are answered from the events, as duplicates."""
    monkeypatch.setattr(RegistryCommandService, "_record_all", _no_records)
    stop = await _served(nats_client, new_seed())
    try:
        sent: Sent = []
        await _import(nats_client, package(), sent)
        assert lane_taken
        before = await _stored(nats_client)
        ids = [cid for process in lane_taken for cid in process]
        assert all(r == {} for r in await _records(nats_client, ids)), "no record written"
    finally:
        await stop()
    stop = await _served(nats_client, new_seed())  # restarted: nothing held in memory
    try:
        again = await _resend(nats_client, sent)
        assert again
        assert all(r.duplicate for r in again)
        assert await _stored(nats_client) == before
    finally:
        await stop()


async def _replies(nc: NATS, sent: Sent) -> list[CommandAccepted | CommandRejected]:
    """Every command's reply to the groups, refusals of whole processes included."""
    out: list[CommandAccepted | CommandRejected] = []
    for subject, payload in sent:
        data = await request_reply(nc, subject, _replies_asked(payload), timeout=60)
        for process in ReleaseGroupImported.model_validate_json(data).processes:
            if isinstance(process, CommandRejected):
                out.append(process)
                continue
            for outcome in process.releases:
                out.extend(outcome.replies)
    return out


async def test_two_importers_through_two_registry_processes_store_each_release_once(
    nats_client: NATS, second_server: NATS, lane_taken: list[list[str]]
) -> None:
    """The same groups sent by two importers at once, each to either of two registry
    processes in one queue group: every command accepted (once new, once a duplicate), and
    the stored events are those of one import, no aggregate version twice."""
    seed = new_seed()
    stop = await _served(second_server, seed)
    sent: Sent = []
    try:
        await _import(second_server, package(), sent)
    finally:
        await stop()
    reference = await _stored(second_server)
    lane_taken.clear()
    stops = [await _served(nats_client, seed), await _served(nats_client, seed)]
    try:
        first, second = await asyncio.gather(
            _replies(nats_client, sent), _replies(nats_client, sent)
        )
    finally:
        for stop in stops:
            await stop()
    assert lane_taken, "the lane was not exercised"
    replies = [*first, *second]
    accepted = [r for r in replies if isinstance(r, CommandAccepted)]
    assert replies
    assert accepted == replies, replies
    assert sum(1 for r in accepted if r.duplicate) == len(accepted) // 2
    ours = await _stored(nats_client)
    versions = Counter(
        (e["aggregate_type"], e["aggregate_id"], e["aggregate_version"]) for e in ours
    )
    assert max(versions.values()) == 1
    # (`sent` holds the group messages only: the reference has the import's other commands too.)
    stored, once = (
        Counter(e["command_id"] for e in ours),
        Counter(e["command_id"] for e in reference),
    )
    assert stored
    assert {cid: n for cid, n in stored.items() if once[cid] != n} == {}


async def test_a_command_id_known_in_another_context_is_refused_and_not_laned(
    nats_client: NATS, second_server: NATS, lane_taken: list[list[str]]
) -> None:
    stop = await _served(second_server, new_seed())
    sent: Sent = []
    try:
        await _import(second_server, package(), sent)
    finally:
        await stop()
    body = json.loads(sent[0][1])
    reused = body["command"]["processes"][0]["releases"][0]["tender"]["command_id"]
    enrolment = await processed_commands_for(EventStore(nats_client, SystemClock()), ENROLMENT)
    record = {
        "context": "enrolment",
        "command_type": "RegisterOrganisation",
        "fingerprint": "x",
        "reply": {
            "status": "accepted",
            "command_id": reused,
            "events": [],
            "consistency_token": "",
        },
    }
    await enrolment.put(reused, json.dumps(record).encode())
    lane_taken.clear()
    stop = await _served(nats_client, new_seed())
    try:
        replies = await _replies(nats_client, sent[:1])
    finally:
        await stop()
    answer = [r for r in replies if r.command_id == reused]
    assert answer
    assert isinstance(answer[0], CommandRejected), answer
    assert answer[0].code == "COMMAND_ID_REUSED"
    assert all(reused not in process for process in lane_taken)


def _replies_asked(payload: bytes) -> bytes:
    """A group message as the importer sent it, asking for every command's reply instead of
    the counts the importer asks for (`answer`), so that each event's placement is read."""
    return payload.replace(b',"answer":"counts"', b"")
