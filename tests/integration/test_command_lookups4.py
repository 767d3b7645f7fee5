"""The processed-command lookups of one loop turn, read by one multi-key Direct Get: the
same answers as a `get` of each key, one request for the lookups asked together; and the
record writes of one turn, sent together and acknowledged each, with what `put` says when
the stream refuses one. On a real JetStream server."""

from __future__ import annotations

import asyncio

import nats.errors
import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import KeyValueConfig
from nats.js.errors import APIError, InvalidKeyError, NoStreamResponseError

from contracts_schema.subjects import REGISTRY
from eventstore.flushing import flushed
from eventstore.processed import MULTI_LAST_CHUNK, KeyValueProcessedCommands
from eventstore.testing.fixtures import connect
from eventstore.testing.nats_server import NatsServer


async def _requests_seen(nats_server: NatsServer, stream: str) -> tuple[NATS, list[Msg]]:
    """Every Direct Get request sent to `stream`, as a plain subscriber sees them."""
    spy = await connect(nats_server.url)
    seen: list[Msg] = []

    async def keep(msg: Msg) -> None:
        seen.append(msg)

    await spy.subscribe(f"$JS.API.DIRECT.GET.{stream}", cb=keep)
    await spy.subscribe(f"$JS.API.DIRECT.GET.{stream}.>", cb=keep)
    await flushed(spy)
    return spy, seen


async def test_lookups_of_one_turn_answer_as_get_in_one_request(
    nats_server: NatsServer, nats_client: NATS
) -> None:
    record = await KeyValueProcessedCommands.open(nats_client, REGISTRY)
    await record.put("a-1", b"first")
    await record.put("registry.a-1", b"legacy")
    await record.put("b-2", b"old")
    await record.put("b-2", b"new")  # the last value counts
    await record.put("c-3", b"gone")
    await record._kv.delete("c-3")  # deleted: no value, as `get` says
    await record.put("d-4", b"purged")
    await record._kv.purge("d-4")
    spy, seen = await _requests_seen(nats_server, record._kv._stream)
    keys = ["a-1", "registry.a-1", "b-2", "c-3", "d-4", "never", "a-1"]  # a key twice

    together = await asyncio.gather(*(record.lookup(k, 2.0) for k in keys))

    assert together == [await record.get(k) for k in keys]
    assert together == [b"first", b"legacy", b"new", None, None, None, b"first"]
    await flushed(nats_client)
    await flushed(spy)
    assert len([m for m in seen if b"multi_last" in m.data]) == 1
    await spy.close()


async def test_a_turn_of_keys_none_recorded_and_a_turn_of_one(nats_client: NATS) -> None:
    record = await KeyValueProcessedCommands.open(nats_client, REGISTRY)
    await record.put("only", b"it")

    assert await asyncio.gather(*(record.lookup(k, 2.0) for k in ["x-1", "x-2"])) == [None, None]
    assert await record.lookup("only", 2.0) == b"it"  # alone in its turn: a plain Direct Get
    assert await record.lookup("nothing", 2.0) is None


async def test_more_lookups_than_one_request_takes_are_all_answered(
    nats_server: NatsServer, nats_client: NATS
) -> None:
    record = await KeyValueProcessedCommands.open(nats_client, REGISTRY)
    recorded = [f"k-{i}" for i in range(0, 2 * MULTI_LAST_CHUNK + 10, 3)]
    await asyncio.gather(*(record.put(k, k.encode()) for k in recorded))
    spy, seen = await _requests_seen(nats_server, record._kv._stream)
    keys = [f"k-{i}" for i in range(2 * MULTI_LAST_CHUNK + 10)]

    found = await asyncio.gather(*(record.lookup(k, 2.0) for k in keys))

    assert found == [k.encode() if k in recorded else None for k in keys]
    await flushed(nats_client)
    await flushed(spy)
    assert len(seen) == 3  # 256 + 256 + 10 keys
    await spy.close()


async def test_a_key_a_subject_would_not_take_literally_is_refused(nats_client: NATS) -> None:
    record = await KeyValueProcessedCommands.open(nats_client, REGISTRY)
    with pytest.raises(InvalidKeyError):
        await record.lookup("a-*", 2.0)


async def test_writes_of_one_turn_are_each_acknowledged_as_put(
    nats_server: NatsServer, nats_client: NATS
) -> None:
    record = await KeyValueProcessedCommands.open(nats_client, REGISTRY)
    keys = [f"w-{i}" for i in range(100)]

    await asyncio.gather(*(record.write(k, k.encode(), 2.0) for k in keys))
    await asyncio.gather(record.write("w-1", b"again", 2.0), record.write("w-2", b"too", 2.0))

    found = await asyncio.gather(*(record.get(k) for k in keys))
    assert found == [{"w-1": b"again", "w-2": b"too"}.get(k, k.encode()) for k in keys]


async def test_a_write_the_stream_refuses_fails_as_put_does(nats_client: NATS) -> None:
    js = nats_client.jetstream()
    kv = await js.create_key_value(KeyValueConfig(bucket="small", history=1, max_value_size=8))
    record = KeyValueProcessedCommands(kv)

    fits, too_big = record.write("a", b"short", 2.0), record.write("b", b"x" * 100, 2.0)

    await fits
    with pytest.raises(APIError) as refused:
        await too_big
    with pytest.raises(APIError) as by_put:
        await record.put("b", b"x" * 100)
    assert refused.value.err_code == by_put.value.err_code
    assert await record.get("a") == b"short"
    assert await record.get("b") is None

    await js.delete_key_value("small")  # no stream: what `put` says, not retried as transient
    with pytest.raises(NoStreamResponseError):
        await record.write("c", b"c", 2.0)


async def test_a_write_too_large_to_send_fails_alone(nats_client: NATS) -> None:
    """One record of a turn the connection cannot send fails by itself; the others of the
    same turn, before and after it, are written and acknowledged."""
    record = await KeyValueProcessedCommands.open(nats_client, REGISTRY)
    too_large = b"x" * (nats_client.max_payload + 1)
    writes = [
        record.write("a-1", b"first", 2.0),
        record.write("b-2", too_large, 2.0),
        record.write("c-3", b"third", 2.0),
    ]

    outcomes = await asyncio.gather(*writes, return_exceptions=True)

    assert outcomes[0] is None
    assert outcomes[2] is None
    assert isinstance(outcomes[1], nats.errors.MaxPayloadError)
    assert [await record.get(k) for k in ("a-1", "b-2", "c-3")] == [b"first", None, b"third"]
