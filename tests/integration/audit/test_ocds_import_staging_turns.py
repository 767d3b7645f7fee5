"""The registry stages one import group at a time, process after process, and takes other
messages between two processes (helper import27), against a real JetStream: a group that
arrives while another stages has its reads answered meanwhile and stages only once the
first one's append is on its way; the loop is not held for a whole group's staging. Both
groups are stored whole and answered as imported."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from nats.aio.client import Client as NATS

from bootstrap.parts import registry_service
from contracts_schema.registry.import_commands import (
    ImportProcessReleases,
    ProcessReleasesImported,
    ReleaseGroupImported,
)
from contracts_schema.subjects import REGISTRY
from eventstore.clock import SystemClock
from eventstore.service_app import serve_in_process, server_url
from eventstore.serving import request_reply
from eventstore.signing import EventSigner, new_seed
from eventstore.store import EventStore
from registry import import_lane
from registry.import_service import RegistryCommandService
from tests.integration.audit.test_ocds_import_group_overlap import _process
from tests.service.test_ocds_import_group import GROUP, _group


def _which(ocid: str) -> str:
    return ocid.removeprefix("ocds-turns-")[:1].upper()


async def _served(nats_client: NATS) -> Any:
    clock = SystemClock()
    store = EventStore(nats_client, clock, signers={"registry": EventSigner(new_seed())})
    return await serve_in_process(server_url(nats_client), [registry_service(store, clock)])


def _imported(data: bytes) -> int:
    """The processes a group's answer names as imported, each release accepted."""
    processes = ReleaseGroupImported.model_validate_json(data).processes
    assert all(isinstance(p, ProcessReleasesImported) for p in processes), processes
    return sum(
        1
        for p in processes
        if isinstance(p, ProcessReleasesImported)
        and all(o.refused is None for o in p.releases)
    )


async def test_a_group_arriving_while_another_stages_is_read_then_staged_after_its_append(
    nats_client: NATS, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _group("turns-a", *(_process(f"ocds-turns-a{n}", 6 + n) for n in range(5)))
    second = _group("turns-b", *(_process(f"ocds-turns-b{n}", 12 + n) for n in range(4)))
    steps: list[str] = []
    second_looked = asyncio.Event()
    second_sent: list[asyncio.Task[bytes]] = []

    looked = RegistryCommandService._new_aggregates

    async def new_aggregates(self: Any, batches: list[ImportProcessReleases]) -> Any:
        found = await looked(self, batches)
        if any(_which(b.ocid) == "B" for b in batches):
            steps.append("look B")
            second_looked.set()
        return found

    record = import_lane.record

    async def recorded(service: Any, store: Any, batch: ImportProcessReleases, *a: Any) -> Any:
        which = _which(batch.ocid)
        steps.append(f"stage {which}")
        if which == "A" and not second_sent:
            # The second group is sent while the first one stages its first process, and
            # that process waits until the second group's reads are answered.
            second_sent.append(
                asyncio.ensure_future(request_reply(nats_client, GROUP, second, timeout=60))
            )
            await asyncio.wait_for(second_looked.wait(), 60)
        return await record(service, store, batch, *a)

    commit = RegistryCommandService._commit

    async def committed(self: Any, processes: list[Any]) -> Any:
        steps.append("append " + "".join(sorted({_which(p.batch.ocid) for p in processes})))
        return await commit(self, processes)

    monkeypatch.setattr(RegistryCommandService, "_new_aggregates", new_aggregates)
    monkeypatch.setattr(import_lane, "record", recorded)
    monkeypatch.setattr(RegistryCommandService, "_commit", committed)
    server = await _served(nats_client)
    try:
        answer = await request_reply(nats_client, GROUP, first, timeout=60)
        assert second_sent, "the first group was staged"
        answers = [answer, await second_sent[0]]
    finally:
        await server.stop()

    # The second group's reads answered while the first staged; the first group staged
    # whole and its append sent before the second group's first process staged.
    assert steps.index("look B") < steps.index("append A"), steps
    assert steps.index("append A") < steps.index("stage B"), steps
    assert [s for s in steps if s.startswith("stage")] == ["stage A"] * 5 + ["stage B"] * 4
    assert [_imported(a) for a in answers] == [5, 4]


async def test_the_loop_takes_other_work_between_two_processes_of_a_group(
    nats_client: NATS, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = _group("turns-c", *(_process(f"ocds-turns-c{n}", 6 + n) for n in range(4)))
    steps: list[str] = []
    record = import_lane.record

    async def recorded(service: Any, store: Any, batch: ImportProcessReleases, *a: Any) -> Any:
        steps.append("stage")
        if len(steps) == 1:  # the loop's next turn: another message's work would run there
            asyncio.get_running_loop().call_soon(steps.append, "other work")
        return await record(service, store, batch, *a)

    monkeypatch.setattr(import_lane, "record", recorded)
    server = await _served(nats_client)
    try:
        answer = await request_reply(nats_client, GROUP, group, timeout=60)
    finally:
        await server.stop()
    # Not after the whole group's staging: between its first and second process.
    assert steps[:3] == ["stage", "other work", "stage"], steps
    assert _imported(answer) == 4
    stored = [e async for e in EventStore(nats_client, SystemClock()).read_stream(REGISTRY)]
    assert {e.envelope.aggregate_id for e in stored} >= {f"ocds-turns-c{n}" for n in range(4)}
