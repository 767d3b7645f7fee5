"""The processed-command record read for many keys at once (a group commit's lookups): the
same answers as a `get` of each key, on a real JetStream server."""

from __future__ import annotations

import pytest
from nats.aio.client import Client as NATS
from nats.js.errors import BucketNotFoundError

from contracts_schema.subjects import REGISTRY
from eventstore.processed import KeyValueProcessedCommands, last_values


async def test_get_many_answers_as_get_of_each_key(nats_client: NATS) -> None:
    record = await KeyValueProcessedCommands.open(nats_client, REGISTRY)
    await record.put("a-1", b"first")
    await record.put("registry.a-1", b"legacy")
    await record.put("b-2", b"old")
    await record.put("b-2", b"new")  # the last value counts
    await record.put("c-3", b"gone")
    await record._kv.delete("c-3")  # deleted: no value, as `get` says
    keys = ["a-1", "registry.a-1", "b-2", "c-3", "never", "a-1"]
    many = await record.get_many(keys)
    assert many == {"a-1": b"first", "registry.a-1": b"legacy", "b-2": b"new"}
    assert {k: await record.get(k) for k in keys} == {k: many.get(k) for k in keys}
    assert await record.get_many(["nothing-here", "nor-here"]) == {}
    assert await record.get_many([]) == {}


async def test_reading_together_a_bucket_that_does_not_exist_says_so(nats_client: NATS) -> None:
    with pytest.raises(BucketNotFoundError):
        await last_values(nats_client, "KV_no-such-bucket", "$KV.no-such-bucket.", ["a-1"])


async def test_a_key_with_a_wildcard_is_refused_not_misread(nats_client: NATS) -> None:
    record = await KeyValueProcessedCommands.open(nats_client, REGISTRY)
    with pytest.raises(ValueError, match="not readable together"):
        await record.get_many(["a-*", "b"])
