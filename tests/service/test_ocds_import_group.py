"""`audit ocds import` as a group commit (`ImportReleaseGroup`): the processes in flight go to
the registry in one message and their events in one atomic append. What is stored is what
the process-by-process path stores; a conflict, a refusal or a malformed process in a group
changes nothing of that; a re-run stores nothing new."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import nats.errors
import pytest

from audit.ocds import importer
from audit.ocds.importer import Report, import_items
from audit.ocds.importer_read import Item, read
from bootstrap.parts import enrolment_service, registry_service
from contracts_schema.registry.import_commands import (
    ImportedRelease,
    ImportProcessReleases,
    ProcessReleasesImported,
    ReleaseGroupImported,
)
from contracts_schema.replies import CommandAccepted, CommandRejected, CommandRequest
from contracts_schema.subjects import COMMAND_PARTITIONS, CONTEXTS, REGISTRY
from eventstore.clock import FixedClock
from eventstore.group_append import GroupedEvent
from eventstore.memory import InMemoryEventStore
from eventstore.records import CommandMetadata, NewEvent, StoredEvent
from tests.service.bus import InProcessBus
from tests.service.story import register_parties
from tests.service.test_ocds_import import DATA, _another, _planned

GROUP = REGISTRY.command_subject("ImportReleaseGroup")


def package() -> bytes:
    """JSON Lines: a package of several TenderNed processes, and one of another publisher."""
    processes = [_another(f"ocds-gtnl99-g{n}", f"NL-KVK-5000000{n}", 2020 + n) for n in range(6)]
    tenderned = {**processes[0], "releases": [r for p in processes for r in p["releases"]]}
    return b"\n".join([json.dumps(tenderned).encode(), (DATA / "fictional-releases.json")
                       .read_bytes().replace(b"\n", b"")])  # fmt: skip


class Spy:
    """The transport as the importer uses it, noting which command messages it sent."""

    def __init__(self, bus: InProcessBus) -> None:
        self.bus = bus
        self.subjects: list[str] = []
        self.sizes: list[tuple[int, int]] = []  # (processes, bytes) of each group message
        self.sent_on: list[str] = []

    async def request(self, subject: str, data: bytes) -> bytes:
        self.subjects.append(subject.rsplit(".", 1)[-1])
        self.sent_on.append(subject)
        if subject.endswith(".ImportReleaseGroup"):  # on a partition's subject, or not
            self.sizes.append((len(json.loads(data)["command"]["processes"]), len(data)))
        return await self.bus.request(subject, data)


async def wired(store: InMemoryEventStore, clock: FixedClock) -> InProcessBus:
    for context in CONTEXTS.values():
        await store.ensure_stream(context)
    services = [registry_service(store, clock), enrolment_service(store, clock)]
    for service in services:
        await service.start()
    bus = InProcessBus(services)
    await register_parties(bus)
    return bus


async def imported(store: InMemoryEventStore) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Every registry aggregate's events, without what differs between two runs (ids, hashes)."""
    found: dict[tuple[str, str], list[dict[str, Any]]] = {}
    async for e in store.read_stream(REGISTRY):
        if not e.envelope.actor.startswith("import:"):
            continue
        body = e.envelope.model_dump(
            mode="json", exclude={"event_id", "hash", "prev_hash", "signature"}
        )
        found.setdefault((e.envelope.aggregate_type, e.envelope.aggregate_id), []).append(body)
    return found


async def import_all(bus: InProcessBus | Spy, store: InMemoryEventStore, data: bytes) -> Report:
    return await import_items(read(data, "unknown publisher"), bus.request, store)


async def test_a_group_stores_exactly_what_process_by_process_stores(
    store: InMemoryEventStore, bus: InProcessBus, clock: FixedClock
) -> None:
    spy = Spy(bus)
    grouped = await import_all(spy, store, package())
    assert "ImportReleaseGroup" in spy.subjects  # the processes went together
    # The reference: each process imported on its own, in its own message.
    alone_store = InMemoryEventStore(clock)
    alone_bus = await wired(alone_store, clock)
    alone = Report()
    processes: dict[str, list[Item]] = {}
    for item in read(package(), "unknown publisher"):
        assert item.release is not None
        processes.setdefault(item.release["ocid"], []).append(item)
    for items in processes.values():
        one = await import_items(items, alone_bus.request, alone_store)
        alone.imported, alone.events = alone.imported + one.imported, alone.events + one.events
    assert (grouped.imported, grouped.events, grouped.skipped) == (alone.imported, alone.events, [])
    assert grouped.imported == 6 * 2 + 6
    assert await imported(store) == await imported(alone_store)
    # Imported again: every release a duplicate, nothing stored.
    before = [e async for e in store.read_stream(REGISTRY)]
    again = await import_all(bus, store, package())
    assert (again.imported, again.duplicates, again.skipped) == (0, grouped.imported, [])
    assert [e async for e in store.read_stream(REGISTRY)] == before


async def test_a_group_message_stays_under_its_size_limit(
    store: InMemoryEventStore, bus: InProcessBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its reply names every event, so the group is bounded well under NATS's max_payload.
    monkeypatch.setattr(importer, "MAX_GROUP_MESSAGE", 5_000)
    spy = Spy(bus)
    report = await import_all(spy, store, package())
    assert (report.imported, report.skipped) == (6 * 2 + 6, [])
    assert len(spy.sizes) > 1
    assert all(size <= 5_000 + 1_000 for _, size in spy.sizes)  # + the envelope around them


class RacingStore(InMemoryEventStore):
    """A store on which another writer appends one command of a group (as a second registry
    handling the same release would) between the group's decisions and its append."""

    raced: list[str]

    async def append_group(self, events: Sequence[GroupedEvent]) -> list[StoredEvent]:
        if not getattr(self, "raced", None):
            first = events[0]
            command = [e for e in events if e.envelope.command_id == first.envelope.command_id]
            self.raced = [first.envelope.command_id]
            history = await self.load(first.context, first.aggregate_type, first.aggregate_id)
            env = first.envelope
            await self.append(
                history,
                [NewEvent(e.envelope.event_type, e.envelope.schema_version, e.envelope.payload,
                          e.envelope.occurred_at) for e in command],
                CommandMetadata(env.command_id, env.actor, env.correlation_id, env.causation_id),
            )  # fmt: skip
        return await super().append_group(events)


async def test_a_group_whose_aggregate_moved_meanwhile_loses_and_duplicates_nothing(
    store: InMemoryEventStore, clock: FixedClock
) -> None:
    racing = RacingStore(clock)
    bus = await wired(racing, clock)
    report = await import_all(bus, racing, package())
    assert racing.raced
    assert report.skipped == []
    # The raced release is the other writer's (a duplicate here); every other one is ours.
    assert (report.imported, report.duplicates) == (6 * 2 + 6 - 1, 1)
    reference = await wired(store, clock)
    await import_all(reference, store, package())
    assert await imported(racing) == await imported(store)
    ids = [e.envelope.event_id async for e in racing.read_stream(REGISTRY)]
    assert len(ids) == len(set(ids))


def _group(command_id: str, *processes: dict[str, Any]) -> bytes:
    body = {"command_id": command_id, "processes": list(processes)}
    request = CommandRequest(command_type="ImportReleaseGroup", command=body, actor="import:x")
    return request.model_dump_json().encode()


def _one_plan(ocid: str, *days: int) -> dict[str, Any]:
    releases = [ImportedRelease(release_id=f"r{d}", tender=_planned(ocid, f"r{d}", d))
                for d in days]  # fmt: skip
    process = ImportProcessReleases(command_id=f"p-{ocid}", ocid=ocid, releases=releases)
    return process.model_dump(mode="json")


async def test_a_malformed_or_refused_process_in_a_group_spoils_no_other(
    store: InMemoryEventStore, bus: InProcessBus
) -> None:
    good, refused, other = (
        _one_plan("ocds-g-1", 6),
        _one_plan("ocds-g-2", 10, 11),
        _one_plan("ocds-g-3", 8),
    )
    malformed = {**_one_plan("ocds-g-4", 9), "ocid": "ocds-g-elsewhere"}
    data = _group("group-1", good, malformed, refused, other)
    reply = ReleaseGroupImported.model_validate_json(await bus.request(GROUP, data))
    first, bad, second, third = reply.processes
    assert isinstance(bad, CommandRejected)
    assert bad.code == "INVALID_COMMAND"
    assert "processes[1]" in bad.message
    assert "ocds-g-elsewhere" in bad.message
    assert isinstance(first, ProcessReleasesImported)
    assert isinstance(second, ProcessReleasesImported)
    assert isinstance(third, ProcessReleasesImported)
    # The second plan of ocds-g-2 is refused, as it is when that process is sent alone.
    assert [o.refused is None for o in second.releases] == [True, False]
    refusal = second.releases[1].refused
    assert refusal is not None
    assert refusal.code == "IMPORT_NOT_APPLICABLE"
    stored = [(e.envelope.aggregate_id, e.envelope.event_type, e.seq)
              async for e in store.read_stream(REGISTRY) if e.envelope.actor == "import:x"]  # fmt: skip
    assert sorted({a for a, _, _ in stored}) == ["ocds-g-1", "ocds-g-2", "ocds-g-3"]
    # Each reply names the events as stored (their sequences), and the record answers a resend.
    accepted = [r for p in (first, third) for o in p.releases for r in o.replies]
    assert all(isinstance(r, CommandAccepted) and not r.duplicate for r in accepted)
    named = {(e.aggregate_id, e.event_type, e.seq) for r in accepted
             if isinstance(r, CommandAccepted) for e in r.events}  # fmt: skip
    assert named <= set(stored)
    again = ReleaseGroupImported.model_validate_json(await bus.request(GROUP, data))
    resent = [r for p in again.processes if isinstance(p, ProcessReleasesImported)
              for o in p.releases for r in o.replies if isinstance(r, CommandAccepted)]  # fmt: skip
    assert resent
    assert all(r.duplicate for r in resent)
    assert {(e.aggregate_id, e.event_type, e.seq) for r in resent for e in r.events} >= named
    after = [e async for e in store.read_stream(REGISTRY) if e.envelope.actor == "import:x"]
    assert len(after) == len(stored)
    assert datetime(2020, 1, 6, tzinfo=UTC) <= min(e.envelope.occurred_at for e in after)


async def test_a_group_reply_built_by_hand_is_the_reply_model_field_for_field(
    store: InMemoryEventStore, bus: InProcessBus
) -> None:
    """The group reply's JSON is built from the service's own values, not through the model:
    it must be exactly what `ReleaseGroupImported` would produce (a field the model gains and
    the hand-built form lacks shows here), for every kind of answer in it: stored, refused,
    malformed, and a resend's duplicates."""
    good, refused = _one_plan("ocds-g-5", 6), _one_plan("ocds-g-6", 10, 11)
    malformed = {**_one_plan("ocds-g-7", 9), "ocid": "ocds-g-elsewhere"}
    data = _group("group-2", good, malformed, refused)
    for _ in range(2):  # stored, then answered from the records
        raw = await bus.request(GROUP, data)
        model = ReleaseGroupImported.model_validate_json(raw)
        assert json.loads(raw) == json.loads(model.model_dump_json())
        kinds = {type(p) for p in model.processes}
        assert kinds == {ProcessReleasesImported, CommandRejected}


async def test_groups_go_to_the_partitions_in_turn_and_to_any_process_when_one_is_unserved(
    store: InMemoryEventStore, bus: InProcessBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each group message goes to the next command partition (each served by one registry
    process: consecutive groups meet different processes); a partition that nobody serves
    answers "no responders", and that group goes on the unpartitioned subject instead."""
    monkeypatch.setattr(importer, "GROUP", 2)  # several groups out of the small package

    class OddPartitionsUnserved(Spy):
        async def request(self, subject: str, data: bytes) -> bytes:
            token = subject.split(".")[2]
            if token.isdigit() and int(token) % 2 == 1:
                self.sent_on.append(subject)
                raise nats.errors.NoRespondersError
            return await super().request(subject, data)

    spy = OddPartitionsUnserved(bus)
    report = await import_all(spy, store, package())
    assert (report.imported, report.skipped) == (6 * 2 + 6, [])
    groups = [s for s in spy.sent_on if s.endswith(".ImportReleaseGroup")]
    partitions = [int(s.split(".")[2]) for s in groups if s != GROUP]
    assert len(partitions) >= 3
    assert partitions == [n % COMMAND_PARTITIONS for n in range(len(partitions))]
    assert groups.count(GROUP) == sum(1 for p in partitions if p % 2 == 1)
