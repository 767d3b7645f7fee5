"""The processed-command records of a group commit written together (`write`: the writes of
one loop turn published together, each acknowledged under one reply inbox), on a real
JetStream server: each written as `put` writes it, and each failure reported for its own
record."""

from __future__ import annotations

import asyncio

import pytest
from nats.aio.client import Client as NATS
from nats.js.api import KeyValueConfig
from nats.js.errors import APIError, InvalidKeyError

from contracts_schema.subjects import REGISTRY
from eventstore.processed import KeyValueProcessedCommands


async def test_a_group_s_records_are_written_each_as_put_writes_it(nats_client: NATS) -> None:
    record = await KeyValueProcessedCommands.open(nats_client, REGISTRY)
    await record.put("b-2", b"old")
    items = [(f"a-{n}", f"value {n}".encode()) for n in range(300)] + [("b-2", b"new")]
    assert await asyncio.gather(*(record.write(k, v, 10) for k, v in items)) == [None] * len(items)
    for key, value in items:
        assert await record.get(key) == value


async def test_a_key_no_bucket_takes_is_refused_alone(nats_client: NATS) -> None:
    record = await KeyValueProcessedCommands.open(nats_client, REGISTRY)
    fine, bad = record.write("fine-1", b"x", 10), record.write("not fine", b"y", 10)
    with pytest.raises(InvalidKeyError):
        await bad
    await fine
    assert await record.get("fine-1") == b"x"


async def test_each_record_gets_its_own_outcome(nats_client: NATS) -> None:
    js = nats_client.jetstream()
    kv = await js.create_key_value(KeyValueConfig(bucket="acked", history=1, max_value_size=16))
    record = KeyValueProcessedCommands(kv)
    results = await asyncio.gather(
        record.write("one", b"stored", 10),
        record.write("two", b"x" * 500, 10),  # over the bucket's max_value_size: refused
        record.write("three", b"stored too", 10),
        return_exceptions=True,
    )
    assert results[0] is None
    assert results[2] is None
    assert isinstance(results[1], APIError)
    assert [await record.get(k) for k in ("one", "two", "three")] == [
        b"stored",
        None,
        b"stored too",
    ]
