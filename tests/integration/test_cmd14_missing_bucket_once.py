"""Another context's missing processed-command bucket is looked for once by the commands that
ask at the same moment, not once each (cmd14: at c64 every recheck sent up to 64 stream-info
requests to the broker, 0.19 per command), on a real JetStream; the lookups still answer
"not known there", and a bucket created meanwhile is found after the recheck."""

from __future__ import annotations

import asyncio

from nats.aio.client import Client as NATS
from nats.js.api import KeyValueConfig

from eventstore.processed import LazyBucket

BUCKET = "processed-commands-nobody"


async def test_commands_asking_at_once_share_one_look_for_a_missing_bucket(
    nats_client: NATS,
) -> None:
    # The look for a bucket is a stream-info request to the JetStream API: counted as the
    # broker hands them to this subscriber too (queued in order before a flush's answer).
    watch = await nats_client.subscribe(f"$JS.API.STREAM.INFO.KV_{BUCKET}")
    await nats_client.flush()

    def looks() -> int:
        return watch.pending_msgs

    now = [0.0]
    other = LazyBucket(nats_client, BUCKET, recheck=5.0, monotonic=lambda: now[0])
    found = await asyncio.gather(*(other.lookup(f"cmd-{i}", 60) for i in range(40)))
    assert found == [None] * 40
    await nats_client.flush()
    assert looks() == 1
    # Known missing until the recheck: no look at all.
    assert await asyncio.gather(*(other.lookup(f"cmd-{i}", 60) for i in range(5))) == [None] * 5
    await nats_client.flush()
    assert looks() == 1
    # Created meanwhile, with a record: found by the next look, shared again.
    kv = await nats_client.jetstream().create_key_value(KeyValueConfig(bucket=BUCKET, history=1))
    await kv.put("cmd-7", b"recorded")
    now[0] = 6.0
    found = await asyncio.gather(*(other.lookup(f"cmd-{i}", 60) for i in range(40)))
    assert found == [None] * 7 + [b"recorded"] + [None] * 32
    await nats_client.flush()
    assert looks() == 2
    await watch.unsubscribe()
