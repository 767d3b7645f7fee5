"""The processed-command records of a group commit written together (`put_many`: every
publish in flight under one reply inbox), on a real JetStream server: each written as `put`
writes it, and each failure reported for its own message."""

from __future__ import annotations

import nats.errors
import pytest
from nats.aio.client import Client as NATS
from nats.js.api import StreamConfig
from nats.js.errors import InvalidKeyError

from contracts_schema.subjects import REGISTRY
from eventstore.errors import AppendFailed
from eventstore.group_append import publish_acked
from eventstore.processed import KeyValueProcessedCommands


async def test_put_many_writes_each_record_as_put_does(nats_client: NATS) -> None:
    record = await KeyValueProcessedCommands.open(nats_client, REGISTRY)
    await record.put("b-2", b"old")
    items = [(f"a-{n}", f"value {n}".encode()) for n in range(300)] + [("b-2", b"new")]
    assert await record.put_many(items, timeout=10) == [None] * len(items)
    for key, value in items:
        assert await record.get(key) == value
    assert await record.put_many([], timeout=10) == []


async def test_a_key_no_bucket_takes_is_refused_before_anything_is_sent(
    nats_client: NATS,
) -> None:
    record = await KeyValueProcessedCommands.open(nats_client, REGISTRY)
    with pytest.raises(InvalidKeyError):
        await record.put_many([("fine-1", b"x"), ("not fine", b"y")], timeout=10)
    assert await record.get("fine-1") is None


async def test_each_message_gets_its_own_outcome(nats_client: NATS) -> None:
    js = nats_client.jetstream()
    await js.add_stream(StreamConfig(name="ACKED", subjects=["acked.>"], max_msg_size=100))
    results = await publish_acked(
        nats_client,
        [
            ("acked.one", b"stored"),
            ("nobody.listens.here", b"no stream"),
            ("acked.two", b"x" * 500),  # over the stream's max_msg_size: refused
            ("acked.three", b"stored too"),
        ],
        timeout=10,
    )
    assert results[0] is None
    assert results[3] is None
    assert isinstance(results[1], nats.errors.NoRespondersError)
    assert isinstance(results[2], AppendFailed)
    assert (await js.stream_info("ACKED")).state.messages == 2
