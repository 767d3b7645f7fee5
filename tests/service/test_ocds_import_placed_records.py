"""Placed processed-command records (helper import34): a group commit records where each
command's events were stored (`processed.Placed`), not its reply; a duplicate is answered
from those events, exactly as it was from the reply. Records written before (with the reply)
still answer as they did; a placed record whose events are not where it says answers nothing
and stores nothing."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from bootstrap.parts import enrolment_service, registry_service
from contracts_schema.registry.import_commands import (
    ImportedRelease,
    ImportProcessReleases,
    ProcessReleasesImported,
    ReleaseGroupImported,
)
from contracts_schema.replies import CommandAccepted, CommandRejected
from contracts_schema.subjects import REGISTRY
from eventstore.clock import FixedClock
from eventstore.hashing import canonical_json_form
from eventstore.memory import InMemoryEventStore
from eventstore.processed import Placed, placed_record
from tests.service.bus import InProcessBus
from tests.service.test_ocds_import import _planned, _process, run
from tests.service.test_ocds_import_group import _group, _one_plan, wired
from tests.service.test_ocds_import_group_records import _alone

IMPORT = REGISTRY.command_subject("ImportProcessReleases")
GROUP = REGISTRY.command_subject("ImportReleaseGroup")


async def _captured(clock: FixedClock) -> dict[str, Any]:
    """The `ImportProcessReleases` the importer makes of a whole process (a tender, its
    award, its contract: several releases, several aggregates), captured on a scratch store
    (its command ids are the ocid's and releases', the same on any store)."""
    scratch = InMemoryEventStore(clock)
    scratch_bus = await wired(scratch, clock)
    sent: list[bytes] = []

    async def request(subject: str, data: bytes) -> bytes:
        sent.append(data)
        return await scratch_bus.request(subject, data)

    class Spied:
        def __init__(self) -> None:
            self.request = request

    await run(scratch, Spied(), json.dumps(_process(10, 6)).encode())  # type: ignore[arg-type]
    (message,) = [json.loads(m) for m in sent if b"ImportProcessReleases" in m]
    process: dict[str, Any] = message["command"]
    assert len(process["releases"]) >= 2
    return process


def _accepted(answer: Any) -> list[CommandAccepted]:
    processes = answer.processes if isinstance(answer, ReleaseGroupImported) else [answer]
    found: list[CommandAccepted] = []
    for process in processes:
        assert isinstance(process, ProcessReleasesImported), process
        for outcome in process.releases:
            for reply in outcome.replies:
                assert isinstance(reply, CommandAccepted), reply
                found.append(reply)
    assert found
    return found


async def _record(store: InMemoryEventStore, command_id: str) -> dict[str, Any]:
    value = await store.processed_commands.get(command_id)
    assert value is not None, command_id
    found: dict[str, Any] = json.loads(value)
    return found


def _same_but_duplicate(again: list[CommandAccepted], first: list[CommandAccepted]) -> None:
    """Each reply again is the first one's (event ids, types, aggregates, versions, stream,
    sequences, consistency token), a duplicate."""
    assert [r.duplicate for r in again] == [True] * len(first)
    assert [r.model_dump(exclude={"duplicate"}) for r in again] == [
        r.model_dump(exclude={"duplicate"}) for r in first
    ]


async def test_a_rerun_is_answered_from_placed_records_as_from_replies(
    store: InMemoryEventStore, bus: InProcessBus, clock: FixedClock
) -> None:
    plans = [await _captured(clock), _one_plan("ocds-p-2", 7), _one_plan("ocds-p-3", 9)]
    first = _accepted(
        ReleaseGroupImported.model_validate_json(
            await bus.request(GROUP, _group("group-p", *plans))
        )
    )
    for reply in first:
        record = await _record(store, reply.command_id)
        assert "reply" not in record, record  # (before import34: the whole reply)
        assert record["placed"] == {"stream": reply.events[0].stream,
                                    "first": reply.events[0].seq, "count": len(reply.events)}  # fmt: skip
        assert len(json.dumps(record)) < 300
    before = [e async for e in store.read_stream(REGISTRY)]
    # Again as a group (the staged path), and each process alone (the command path).
    regrouped = ReleaseGroupImported.model_validate_json(
        await bus.request(GROUP, _group("group-p", *plans))
    )
    _same_but_duplicate(_accepted(regrouped), first)
    alone = [
        r
        for p in plans
        for r in _accepted(
            ProcessReleasesImported.model_validate_json(await bus.request(IMPORT, _alone(p)))
        )
    ]
    _same_but_duplicate(alone, first)
    assert [e async for e in store.read_stream(REGISTRY)] == before


async def test_records_written_with_the_reply_still_answer_a_rerun_exactly(
    store: InMemoryEventStore, bus: InProcessBus, clock: FixedClock
) -> None:
    """A record as every release before import34 wrote it (`Held.record`: the reply, its
    events placed, without `duplicate`) answers from its reply, as it always did. (It passes
    before import34 too: what it guards is that old records keep answering.)"""
    plans = [await _captured(clock), _one_plan("ocds-o-2", 7)]
    first = _accepted(
        ReleaseGroupImported.model_validate_json(
            await bus.request(GROUP, _group("group-o", *plans))
        )
    )
    for reply in first:
        record = await _record(store, reply.command_id)
        head = {k: record[k] for k in ("context", "command_type", "fingerprint")}
        old = {**head, "reply": reply.model_dump(mode="json", exclude={"duplicate"})}
        await store.processed_commands.put(reply.command_id, json.dumps(old).encode())
    before = [e async for e in store.read_stream(REGISTRY)]
    regrouped = ReleaseGroupImported.model_validate_json(
        await bus.request(GROUP, _group("group-o", *plans))
    )
    _same_but_duplicate(_accepted(regrouped), first)
    alone = [
        r
        for p in plans
        for r in _accepted(
            ProcessReleasesImported.model_validate_json(await bus.request(IMPORT, _alone(p)))
        )
    ]
    _same_but_duplicate(alone, first)
    assert [e async for e in store.read_stream(REGISTRY)] == before


async def test_a_process_whose_cache_is_behind_reads_the_placed_events(
    store: InMemoryEventStore, bus: InProcessBus, clock: FixedClock
) -> None:
    """Registry process 1 holds the tender at its first release (its cache); process 2
    imports the later releases onto it (placed records). The process resent to 1: the later
    tender commands' records name events 1's cache has not seen; they are read from the
    store and answer, as the reply in the record did."""
    services = [registry_service(store, clock), enrolment_service(store, clock)]
    for service in services:
        await service.start()
    other = InProcessBus(services)  # a second registry process on the same store
    both = await _captured(clock)
    one = {**both, "releases": both["releases"][:1]}
    cached = _accepted(
        ProcessReleasesImported.model_validate_json(await bus.request(IMPORT, _alone(one)))
    )
    first = _accepted(
        ReleaseGroupImported.model_validate_json(
            await other.request(GROUP, _group("group-c", both))
        )
    )
    assert [r.duplicate for r in first] == [True] * len(cached) + [False] * (
        len(first) - len(cached)
    )
    tender = cached[0].events[0].aggregate_id
    later = [r for r in first[len(cached) :] if r.events[0].aggregate_id == tender]
    assert later, "no later command on the cached tender"
    for reply in first[len(cached) :]:
        assert "placed" in await _record(store, reply.command_id)
    before = [e async for e in store.read_stream(REGISTRY)]
    again = _accepted(
        ProcessReleasesImported.model_validate_json(await bus.request(IMPORT, _alone(both)))
    )
    _same_but_duplicate(again, [*cached, *first[len(cached) :]])
    assert [e async for e in store.read_stream(REGISTRY)] == before


async def test_a_placed_record_naming_events_that_are_not_there_answers_nothing(
    store: InMemoryEventStore, bus: InProcessBus
) -> None:
    """The command's own record (its fingerprint) names events its aggregate does not hold:
    neither accepted as a duplicate nor decided and appended again."""
    command = _planned("ocds-x-1", "rx", 6)
    fingerprint = hashlib.sha256(canonical_json_form(command.model_dump(mode="json"))).hexdigest()
    record = placed_record("registry", command.command_type, fingerprint, Placed("REGISTRY", 3, 1))
    await store.processed_commands.put(command.command_id, record)
    release = ImportedRelease(release_id="rx", tender=command)
    process = ImportProcessReleases(command_id="p-x", ocid="ocds-x-1", releases=[release])
    before = [e async for e in store.read_stream(REGISTRY)]
    answer = json.loads(await bus.request(IMPORT, _alone(process.model_dump(mode="json"))))
    refused = CommandRejected.model_validate(answer)
    assert refused.code == "INTERNAL_ERROR"
    assert [e async for e in store.read_stream(REGISTRY)] == before
