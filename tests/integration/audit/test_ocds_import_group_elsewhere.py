"""A group commit reads the other contexts' processed-command records for all its command ids
at once (one multi-key Direct Get, or a read each for a bucket without Direct Get; a missing
bucket opened once), on a real JetStream: the same answers as a `get` of each key, and a
command id another context used is refused in a group exactly as alone."""

from __future__ import annotations

import json

import pytest
from nats.aio.client import Client as NATS
from nats.js.api import KeyValueConfig

from contracts_schema.registry.import_commands import (
    ProcessReleasesImported,
    ReleaseGroupImported,
)
from contracts_schema.replies import CommandAccepted, CommandRejected
from contracts_schema.subjects import ENROLMENT, REGISTRY
from eventstore.processed import KeyValueProcessedCommands, LazyBucket, processed_bucket
from eventstore.service_app import CommandServer
from eventstore.serving import request_reply
from tests.service.test_ocds_import_group import _group, _one_plan

GROUP = REGISTRY.command_subject("ImportReleaseGroup")


@pytest.mark.parametrize("direct", [False, True], ids=["message-get", "direct-get"])
async def test_get_each_answers_as_get_of_each_key(nats_client: NATS, direct: bool) -> None:
    # A bucket made before Direct Get was asked for (read by message gets), and one made with it.
    config = KeyValueConfig(bucket=processed_bucket(ENROLMENT), history=1, direct=direct)
    await nats_client.jetstream().create_key_value(config)
    owner = await KeyValueProcessedCommands.open(nats_client, ENROLMENT)
    await owner.put("a-1", b"first")
    await owner.put("b-2", b"old")
    await owner.put("b-2", b"new")
    await owner.put("c-3", b"gone")
    await owner._kv.delete("c-3")
    other = LazyBucket(nats_client, processed_bucket(ENROLMENT))
    assert (await nats_client.jetstream().key_value(processed_bucket(ENROLMENT)))._direct == direct
    keys = ["a-1", "b-2", "c-3", "never", "a-1"]
    each = await other.get_each(keys, timeout=60)
    assert each == {k: await other.get(k) for k in keys}
    assert each == {"a-1": b"first", "b-2": b"new", "c-3": None, "never": None}
    missing = LazyBucket(nats_client, "processed-commands-nobody")
    assert await missing.get_each(["a-1", "b-2"], timeout=60) == {"a-1": None, "b-2": None}


async def test_an_id_another_context_used_is_refused_in_a_group_as_alone(
    nats_client: NATS, registry: CommandServer
) -> None:
    enrolment = await KeyValueProcessedCommands.open(nats_client, ENROLMENT)
    used = {"context": "enrolment", "command_type": "EnrolOrganisation", "fingerprint": "f",
            "reply": {"status": "accepted", "command_id": "cmd-r7", "events": [],
                      "consistency_token": ""}}  # fmt: skip
    await enrolment.put("cmd-r7", json.dumps(used).encode())
    plans = [_one_plan("ocds-e-1", 6), _one_plan("ocds-e-2", 7), _one_plan("ocds-e-3", 8)]
    data = _group("group-e", *plans)
    for attempt in range(2):  # stored, then answered from the records
        reply = ReleaseGroupImported.model_validate_json(
            await request_reply(nats_client, GROUP, data, timeout=60)
        )
        first, reused, third = reply.processes
        for process in (first, third):
            assert isinstance(process, ProcessReleasesImported)
            replies = [r for o in process.releases for r in o.replies]
            assert all(isinstance(r, CommandAccepted) for r in replies)
            assert all(r.duplicate == (attempt == 1) for r in replies)
        assert isinstance(reused, ProcessReleasesImported)
        refused = reused.releases[0].refused
        assert refused is not None
        assert refused.code == "COMMAND_ID_REUSED"
        assert "enrolment" in refused.message
    assert not isinstance(reused, CommandRejected)
