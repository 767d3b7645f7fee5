"""`ImportReleaseGroup` with `answer: counts`: the registry answers each accepted command
with its outcome and how many events it appended (`ReleaseGroupCounted`), not every event's
placement; refusals in full. The same processes, the same stored events, the same outcomes
as the replies' answer; the importer asks for it, and against a registry from before the
field (which refuses the group whole) it asks again for the replies and imports the same."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from pydantic import Field, ValidationError

from audit.ocds.importer import import_items
from audit.ocds.importer_read import read
from contracts_schema.base import Command
from contracts_schema.registry.import_commands import (
    CommandCounted,
    ImportProcessReleases,
    ProcessReleasesCounted,
    ReleaseGroupCounted,
    ReleaseGroupImported,
)
from contracts_schema.replies import CommandRejected, CommandRequest
from contracts_schema.subjects import REGISTRY
from eventstore.clock import FixedClock
from eventstore.memory import InMemoryEventStore
from registry.import_service import _invalid
from tests.service.bus import InProcessBus
from tests.service.test_ocds_import_group import GROUP, _one_plan, imported, package, wired


def _group(command_id: str, processes: list[dict[str, Any]], answer: str | None) -> bytes:
    body: dict[str, Any] = {"command_id": command_id, "processes": processes}
    if answer is not None:
        body["answer"] = answer
    request = CommandRequest(command_type="ImportReleaseGroup", command=body, actor="import:x")
    return request.model_dump_json().encode()


def _outcomes(answer: ReleaseGroupImported | ReleaseGroupCounted) -> list[Any]:
    """Each process's outcome as the importer reads it: refused (code, message), or per
    release its id and per command (id, events appended, duplicate) or its refusal."""
    found: list[Any] = []
    for process in answer.processes:
        if isinstance(process, CommandRejected):
            found.append(("rejected", process.code, process.message))
            continue
        releases = []
        for outcome in process.releases:
            replies = []
            for r in outcome.replies:
                if isinstance(r, CommandRejected):
                    replies.append(("rejected", r.command_id, r.code, r.message))
                else:
                    count = r.events if isinstance(r, CommandCounted) else len(r.events)
                    replies.append((r.command_id, count, r.duplicate))
            releases.append((outcome.release_id, replies))
        found.append((process.command_id, releases))
    return found


async def test_a_counted_answer_is_the_replies_answer_counted(clock: FixedClock) -> None:
    good, refused, other = (
        _one_plan("ocds-c-1", 6),
        _one_plan("ocds-c-2", 10, 11),
        _one_plan("ocds-c-3", 8),
    )
    malformed = {**_one_plan("ocds-c-4", 9), "ocid": "ocds-c-elsewhere"}
    processes = [good, malformed, refused, other]
    stores = {answer: InMemoryEventStore(clock) for answer in ("counts", "replies")}
    buses = {answer: await wired(s, clock) for answer, s in stores.items()}
    for round_ in ("stored", "resent"):
        raw = await buses["counts"].request(GROUP, _group("g-1", processes, "counts"))
        counted = ReleaseGroupCounted.model_validate_json(raw)
        assert json.loads(raw) == json.loads(counted.model_dump_json())  # field for field
        full = ReleaseGroupImported.model_validate_json(
            await buses["replies"].request(GROUP, _group("g-1", processes, None))
        )
        assert _outcomes(counted) == _outcomes(full)
        kinds = [type(p) for p in counted.processes]
        assert kinds == [ProcessReleasesCounted, CommandRejected, ProcessReleasesCounted,
                         ProcessReleasesCounted]  # fmt: skip
        accepted = [r for p in counted.processes if isinstance(p, ProcessReleasesCounted)
                    for o in p.releases for r in o.replies if isinstance(r, CommandCounted)]  # fmt: skip
        assert accepted
        assert all(r.events > 0 for r in accepted)
        assert all(r.duplicate is (round_ == "resent") for r in accepted)
        assert b'"event_id"' not in raw  # no event's placement
    assert await imported(stores["counts"]) == await imported(stores["replies"])


class _OldGroup(Command):
    """`ImportReleaseGroup` as a registry from before `answer` validates it."""

    context: ClassVar[str] = "registry"
    processes: list[ImportProcessReleases] = Field(max_length=1000)


class OlderRegistry:
    """The transport to a registry from before `answer`: a group asking for it is refused
    whole, as that registry refuses it (its `_invalid` of the validation error, nothing
    stored); any other message is answered by the registry as it is."""

    def __init__(self, bus: InProcessBus) -> None:
        self.bus = bus
        self.answers: list[str | None] = []  # each group message's `answer`
        self.refused = 0

    async def request(self, subject: str, data: bytes) -> bytes:
        if subject.endswith(".ImportReleaseGroup"):
            raw = json.loads(data)["command"]
            self.answers.append(raw.get("answer"))
            try:
                _OldGroup.model_validate({**raw, "processes": []})
            except ValidationError as exc:
                self.refused += 1
                return _invalid("ImportReleaseGroup", exc).model_dump_json().encode()
        return await self.bus.request(subject, data)


class Spy(OlderRegistry):
    async def request(self, subject: str, data: bytes) -> bytes:
        if subject.endswith(".ImportReleaseGroup"):
            self.answers.append(json.loads(data)["command"].get("answer"))
        return await self.bus.request(subject, data)


async def test_the_importer_asks_for_counts_and_an_older_registry_gets_the_replies(
    store: InMemoryEventStore, bus: InProcessBus, clock: FixedClock
) -> None:
    spy = Spy(bus)
    report = await import_items(read(package(), "unknown publisher"), spy.request, store)
    assert spy.answers
    assert set(spy.answers) == {"counts"}  # every group asked for counts
    assert (report.imported, report.events, report.skipped) == (6 * 2 + 6, report.events, [])
    assert report.events > 0
    older_store = InMemoryEventStore(clock)
    older = OlderRegistry(await wired(older_store, clock))
    again = await import_items(read(package(), "unknown publisher"), older.request, older_store)
    assert older.refused == 1  # the first group; every later one asked for the replies
    assert older.answers[0] == "counts"
    assert set(older.answers[1:]) == {None}
    assert len(older.answers) > 2
    assert (again.imported, again.events, again.duplicates, again.skipped) == (
        report.imported, report.events, report.duplicates, [],
    )  # fmt: skip
    assert await imported(older_store) == await imported(store)
    # Imported again against each: every release a duplicate, nothing stored.
    for transport, s in ((spy, store), (older, older_store)):
        before = [e async for e in s.read_stream(REGISTRY)]
        rerun = await import_items(read(package(), "unknown publisher"), transport.request, s)
        assert (rerun.imported, rerun.duplicates, rerun.skipped) == (0, report.imported, [])
        assert [e async for e in s.read_stream(REGISTRY)] == before
