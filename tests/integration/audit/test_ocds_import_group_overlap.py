"""Two import groups at one registry process at once, against a real JetStream, the second
group's reads answered while the first one stages (so both find the shared process new): a
process in both groups (a resend overlapping its first send) is stored once, in order, and
answered as a duplicate the second time; every other process of both is stored once, and
each reply names the events as stored."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from nats.aio.client import Client as NATS

from bootstrap.parts import registry_service
from contracts_schema.registry.import_commands import (
    ImportedRelease,
    ImportProcessReleases,
    ProcessReleasesImported,
    ReleaseGroupImported,
)
from contracts_schema.replies import CommandAccepted
from contracts_schema.subjects import REGISTRY
from eventstore.clock import SystemClock
from eventstore.service_app import serve_in_process, server_url
from eventstore.serving import request_reply
from eventstore.signing import EventSigner, new_seed
from eventstore.store import EventStore
from registry.import_service import RegistryCommandService
from tests.service.test_ocds_import import _planned
from tests.service.test_ocds_import_group import GROUP, _group


def _process(ocid: str, day: int) -> dict[str, Any]:
    """One process of one planning release, its command ids its own."""
    tender = _planned(ocid, f"r-{ocid}", day).model_copy(update={"command_id": f"cmd-{ocid}"})
    release = ImportedRelease(release_id=f"r-{ocid}", tender=tender)
    process = ImportProcessReleases(command_id=f"p-{ocid}", ocid=ocid, releases=[release])
    return process.model_dump(mode="json")


def _which(ocid: str) -> str | None:
    return (
        "A" if ocid.startswith("ocds-turn-a") else "B" if ocid.startswith("ocds-turn-b") else None
    )


async def test_overlapping_groups_sharing_a_process_store_each_event_once(
    nats_client: NATS, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = _process("ocds-turn-p", 5)  # in both groups
    first = _group("group-a", *(_process(f"ocds-turn-a{n}", 6 + n) for n in range(4)), shared)
    second = _group("group-b", shared, *(_process(f"ocds-turn-b{n}", 12 + n) for n in range(3)))

    steps: list[str] = []  # what the registry did, in order: "look B", "stage A", "append A"
    second_looked = asyncio.Event()
    second_sent: list[asyncio.Task[bytes]] = []

    def send_second() -> None:
        # Sent once the first group stages: its reads answer while the first one decides.
        if not second_sent:
            second_sent.append(
                asyncio.ensure_future(request_reply(nats_client, GROUP, second, timeout=60))
            )

    looked = RegistryCommandService._new_aggregates

    async def new_aggregates(self: Any, batches: list[ImportProcessReleases]) -> Any:
        found = await looked(self, batches)
        if any(_which(b.ocid) == "B" for b in batches):
            steps.append("look B")
            second_looked.set()
        return found

    def staging(name: str) -> Any:
        stage = getattr(RegistryCommandService, name)

        async def staged(self: Any, index: int, batch: ImportProcessReleases, *args: Any) -> Any:
            which = _which(batch.ocid)
            if which is not None:
                steps.append(f"stage {which}")
            if which == "A" and not second_sent:
                send_second()
                # The first group's decisions wait for the second's reads: without turns the
                # second then stages at once, beside the first.
                await asyncio.wait_for(second_looked.wait(), 60)
            return await stage(self, index, batch, *args)

        return staged

    commit = RegistryCommandService._commit

    async def committed(self: Any, processes: list[Any]) -> Any:
        names = {_which(p.batch.ocid) for p in processes} - {None}
        steps.append(f"append {''.join(sorted(n for n in names if n))}")
        return await commit(self, processes)

    monkeypatch.setattr(RegistryCommandService, "_new_aggregates", new_aggregates)
    monkeypatch.setattr(RegistryCommandService, "_record_fresh", staging("_record_fresh"))
    monkeypatch.setattr(RegistryCommandService, "_stage", staging("_stage"))
    monkeypatch.setattr(RegistryCommandService, "_commit", committed)

    clock = SystemClock()
    store = EventStore(nats_client, clock, signers={"registry": EventSigner(new_seed())})
    server = await serve_in_process(server_url(nats_client), [registry_service(store, clock)])
    try:
        answers = [await request_reply(nats_client, GROUP, first, timeout=60)]
        assert second_sent, "the first group was staged"
        answers.append(await second_sent[0])
    finally:
        await server.stop()

    # The groups overlapped: the second's reads answered before the first was appended.
    assert "look B" in steps
    assert steps.index("look B") < steps.index("append A"), steps

    # Every process imported; the shared one new once and a duplicate once.
    replies: dict[str, list[CommandAccepted]] = {}
    for data in answers:
        for process in ReleaseGroupImported.model_validate_json(data).processes:
            assert isinstance(process, ProcessReleasesImported), process
            for outcome in process.releases:
                assert outcome.refused is None, outcome
                for reply in outcome.replies:
                    assert isinstance(reply, CommandAccepted)
                    replies.setdefault(reply.command_id, []).append(reply)
    assert sorted(r.duplicate for r in replies["cmd-ocds-turn-p"]) == [False, True]
    assert all(not r.duplicate for cid, rs in replies.items() if cid != "cmd-ocds-turn-p"
               for r in rs)  # fmt: skip

    # Stored once each, each aggregate's versions in order from 1, and the replies name them.
    stored = [e async for e in EventStore(nats_client, clock).read_stream(REGISTRY)]
    imported = [e for e in stored if e.envelope.actor == "import:x"]
    assert len({e.envelope.event_id for e in imported}) == len(imported)
    per_command = Counter(e.envelope.command_id for e in imported)
    assert set(per_command) == set(replies)
    versions: dict[str, list[int]] = {}
    for e in imported:
        versions.setdefault(e.envelope.aggregate_id, []).append(e.envelope.aggregate_version)
    assert sorted(versions) == sorted(f"ocds-turn-{x}" for x in
                                      ["p", "a0", "a1", "a2", "a3", "b0", "b1", "b2"])  # fmt: skip
    assert all(v == list(range(1, len(v) + 1)) for v in versions.values()), versions
    named = {(e.aggregate_id, e.seq) for rs in replies.values() for r in rs for e in r.events}
    assert named == {(e.envelope.aggregate_id, e.seq) for e in imported}
