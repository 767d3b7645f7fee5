"""The processed-command records a group commit writes: held as values while the group is
decided, written once it is stored; each must be the record the command's own execution
writes (`CommandService._remember`): its context, type, fingerprint and reply, the reply's
events at their stored sequences. A resend, alone or in a group, is answered from them."""

from __future__ import annotations

import json
from typing import Any

from contracts_schema.registry.import_commands import ProcessReleasesImported, ReleaseGroupImported
from contracts_schema.replies import CommandAccepted
from contracts_schema.subjects import REGISTRY
from eventstore.clock import FixedClock
from eventstore.memory import InMemoryEventStore
from tests.service.bus import InProcessBus
from tests.service.test_ocds_import_group import _group, _one_plan, wired

IMPORT = REGISTRY.command_subject("ImportProcessReleases")
GROUP = REGISTRY.command_subject("ImportReleaseGroup")


def _alone(process: dict[str, Any]) -> bytes:
    body = {"command_type": "ImportProcessReleases", "command": process, "actor": "import:x"}
    return json.dumps(body).encode()


async def _records(store: InMemoryEventStore, replies: list[CommandAccepted]) -> list[Any]:
    return [json.loads(await store.processed_commands.get(r.command_id) or b"null")
            for r in replies]  # fmt: skip


def _accepted(process: Any) -> list[CommandAccepted]:
    assert isinstance(process, ProcessReleasesImported)
    found = [r for o in process.releases for r in o.replies]
    assert found
    assert all(isinstance(r, CommandAccepted) for r in found)
    return [r for r in found if isinstance(r, CommandAccepted)]


async def test_a_group_writes_the_records_each_command_alone_writes(clock: FixedClock) -> None:
    grouped_store, alone_store = InMemoryEventStore(clock), InMemoryEventStore(clock)
    grouped_bus: InProcessBus = await wired(grouped_store, clock)
    alone_bus: InProcessBus = await wired(alone_store, clock)
    plans = [_one_plan("ocds-r-1", 6), _one_plan("ocds-r-2", 8), _one_plan("ocds-r-3", 9)]
    group = ReleaseGroupImported.model_validate_json(
        await grouped_bus.request(GROUP, _group("group-r", *plans))
    )
    alone = [ProcessReleasesImported.model_validate_json(await alone_bus.request(IMPORT,
             _alone(p))) for p in plans]  # fmt: skip
    grouped_replies = [r for p in group.processes for r in _accepted(p)]
    alone_replies = [r for p in alone for r in _accepted(p)]
    grouped = await _records(grouped_store, grouped_replies)
    by_itself = await _records(alone_store, alone_replies)
    for record, reply, other in zip(grouped, grouped_replies, by_itself, strict=True):
        # The reply as answered (its events stored, at those sequences), without `duplicate`.
        assert record["reply"] == reply.model_dump(mode="json", exclude={"duplicate"})
        # Everything else as the command alone records it (events differ only in their ids).
        assert {k: v for k, v in record.items() if k != "reply"} == {
            k: v for k, v in other.items() if k != "reply"
        }
        assert record["reply"].keys() == other["reply"].keys()
        assert [e.keys() for e in record["reply"]["events"]] == [
            e.keys() for e in other["reply"]["events"]
        ]
    stored = {(e.envelope.event_id, e.seq) async for e in grouped_store.read_stream(REGISTRY)}
    named = {(e.event_id, e.seq) for r in grouped_replies for e in r.events}
    assert named <= stored
    # Answered from the records: alone, and in a group again.
    for plan in plans:
        again = ProcessReleasesImported.model_validate_json(
            await grouped_bus.request(IMPORT, _alone(plan))
        )
        assert all(r.duplicate for r in _accepted(again))
    regrouped = ReleaseGroupImported.model_validate_json(
        await grouped_bus.request(GROUP, _group("group-r", *plans))
    )
    resent = [r for p in regrouped.processes for r in _accepted(p)]
    assert all(r.duplicate for r in resent)
    assert [r.model_dump(exclude={"duplicate"}) for r in resent] == [
        r.model_dump(exclude={"duplicate"}) for r in grouped_replies
    ]
